// Charts drawn from report rows: the per-layer MACs/params bar chart (SVG, log or linear, hover
// and arrow keys read the values), stacked share bars, and paired bars for comparisons.

import { h, s } from './dom.js';
import { compact, int, pct, shape } from './format.js';

/** Branch colours: each has at least 3:1 contrast against white (WCAG non-text contrast). */
export const PALETTE = [
  '#1f5fbf',
  '#b4540a',
  '#0f7b5f',
  '#7b3fc4',
  '#b42352',
  '#0b6f8c',
  '#5c6b00',
  '#8a4b2a',
];

const MARGIN = { left: 52, right: 8, top: 22, bottom: 20 };
const PANEL = 112;
const GAP = 34;

/**
 * The per-layer chart: MACs above, parameters below, one bar per layer that has either.
 * Returns an element that redraws itself to its width.
 */
export function layerChart(report, id) {
  const rows = report.layers.filter((l) => l.macs > 0 || l.params > 0);
  const totals = report.totals;
  const state = {
    scale: 'log',
    index: rows.reduce((best, l, i) => (l.macs > rows[best].macs ? i : best), 0),
  };
  const readout = h('p', { class: 'chart-readout', id: `${id}-readout`, 'aria-live': 'polite' });
  const holder = h('div', { class: 'chart-holder' });
  const radios = ['log', 'linear'].map((scale) =>
    h(
      'label',
      { class: 'radio' },
      h('input', {
        type: 'radio',
        name: `${id}-scale`,
        value: scale,
        checked: scale === state.scale,
        onchange: () => {
          state.scale = scale;
          draw();
        },
      }),
      scale === 'log' ? ' Log scale' : ' Linear scale',
    ),
  );
  const wrap = h(
    'div',
    { class: 'chart' },
    h(
      'div',
      { class: 'chart-controls' },
      h('fieldset', { class: 'inline-radios' }, h('legend', { class: 'visually-hidden' }, 'Scale'), radios),
      h(
        'p',
        { class: 'legend' },
        h('span', { class: 'swatch swatch-macs', 'aria-hidden': 'true' }),
        'MACs ',
        h('span', { class: 'swatch swatch-params', 'aria-hidden': 'true' }),
        'Parameters',
      ),
    ),
    holder,
    readout,
    h(
      'p',
      { class: 'hint' },
      `${rows.length} of ${report.layers.length} layers have parameters or MACs; the others (activations, pooling, adds, concats…) cost 0 MACs. Hover a bar, or focus the chart and use ←/→, Home, End.`,
    ),
  );

  if (!rows.length) {
    holder.append(h('p', { class: 'hint' }, 'No layer has parameters or MACs.'));
    return wrap;
  }

  let svg;
  let lastWidth = 0;

  function describe(i) {
    const l = rows[i];
    const where = l.blockPath?.length ? ` in ${l.blockPath[l.blockPath.length - 1]}` : '';
    readout.replaceChildren(
      h('strong', {}, l.name),
      ` (${l.kind}${where}, output ${shape(l.outputShape)}): `,
      h(
        'span',
        { class: 'nowrap' },
        `${compact(l.macs)} MACs (${pct(totals.macs ? l.macs / totals.macs : 0)})`,
      ),
      ', ',
      h(
        'span',
        { class: 'nowrap' },
        `${int(l.params)} params (${pct(totals.params ? l.params / totals.params : 0)})`,
      ),
    );
  }

  function draw() {
    const width = Math.max(holder.clientWidth, 260);
    lastWidth = holder.clientWidth;
    const plotW = width - MARGIN.left - MARGIN.right;
    const band = plotW / rows.length;
    const barW = Math.min(Math.max(band * (band > 4 ? 0.78 : 1), 0.6), 28);
    const height = MARGIN.top + PANEL + GAP + PANEL + MARGIN.bottom;
    const panels = [
      { key: 'macs', title: 'MACs per layer', y0: MARGIN.top, cls: 'bar-macs' },
      { key: 'params', title: 'Parameters per layer', y0: MARGIN.top + PANEL + GAP, cls: 'bar-params' },
    ];
    svg = s('svg', {
      class: 'layer-chart',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      tabindex: 0,
      role: 'img',
      'aria-label': `Bar chart of MACs and parameters per layer, ${state.scale} scale. Use the left and right arrow keys to read each layer.`,
      'aria-describedby': `${id}-readout`,
    });
    const cursorW = Math.max(band, 3);
    const highlight = s('rect', {
      class: 'chart-cursor',
      y: MARGIN.top - 4,
      height: height - MARGIN.top - MARGIN.bottom + 8,
      width: cursorW,
    });
    svg.append(highlight);
    for (const p of panels) {
      const max = Math.max(...rows.map((l) => l[p.key]), 1);
      const y = scaleFor(state.scale, max, PANEL);
      svg.append(s('text', { class: 'chart-title', x: MARGIN.left, y: p.y0 - 8 }, p.title));
      for (const t of ticks(state.scale, max)) {
        const ty = p.y0 + PANEL - y(t);
        svg.append(
          s('line', { class: 'chart-grid', x1: MARGIN.left, x2: width - MARGIN.right, y1: ty, y2: ty }),
        );
        svg.append(
          s(
            'text',
            { class: 'chart-tick', x: MARGIN.left - 6, y: ty + 4, 'text-anchor': 'end' },
            tickLabel(t),
          ),
        );
      }
      const g = s('g', { class: p.cls });
      rows.forEach((l, i) => {
        const v = l[p.key];
        if (v <= 0) return;
        const bh = Math.max(y(v), 1);
        g.append(
          s('rect', {
            x: MARGIN.left + i * band + (band - barW) / 2,
            y: p.y0 + PANEL - bh,
            width: barW,
            height: bh,
          }),
        );
      });
      svg.append(g);
      svg.append(
        s('line', {
          class: 'chart-axis',
          x1: MARGIN.left,
          x2: width - MARGIN.right,
          y1: p.y0 + PANEL,
          y2: p.y0 + PANEL,
        }),
      );
    }
    svg.append(s('text', { class: 'chart-tick', x: MARGIN.left, y: height - 4 }, `${rows[0].name}`));
    svg.append(
      s(
        'text',
        { class: 'chart-tick', x: width - MARGIN.right, y: height - 4, 'text-anchor': 'end' },
        `${rows[rows.length - 1].name}`,
      ),
    );

    const move = (i) => {
      state.index = Math.min(Math.max(i, 0), rows.length - 1);
      highlight.setAttribute('x', String(MARGIN.left + state.index * band + (band - cursorW) / 2));
      describe(state.index);
    };
    svg.addEventListener('pointermove', (event) => {
      const box = svg.getBoundingClientRect();
      const x = ((event.clientX - box.left) / box.width) * width - MARGIN.left;
      if (x >= 0 && x <= plotW) move(Math.floor(x / band));
    });
    svg.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1, PageDown: 10, PageUp: -10 }[event.key];
      if (step !== undefined) move(state.index + step);
      else if (event.key === 'Home') move(0);
      else if (event.key === 'End') move(rows.length - 1);
      else return;
      event.preventDefault();
    });
    holder.replaceChildren(svg);
    move(state.index);
  }

  // Drawn to the holder's width, and again when that changes (tab shown, window resized).
  new ResizeObserver(() => {
    if (holder.clientWidth > 0 && Math.abs(holder.clientWidth - lastWidth) > 1) draw();
  }).observe(holder);
  return wrap;
}

/** 1e9 → "1G", 2.5e6 → "2.5M": axis labels without trailing zeros. */
const tickLabel = (v) =>
  compact(v)
    .replace(/\.0+(?=[A-Z]?$)/, '')
    .replace(/(\.\d*[1-9])0+(?=[A-Z]?$)/, '$1');

function scaleFor(kind, max, height) {
  if (kind === 'linear') return (v) => (v / max) * height;
  const top = Math.ceil(Math.log10(max)) || 1;
  return (v) => (v <= 0 ? 0 : (Math.max(Math.log10(v), 0) / top) * height);
}

function ticks(kind, max) {
  if (kind === 'linear') return [max / 2, max];
  const top = Math.ceil(Math.log10(max)) || 1;
  const step = top > 6 ? 3 : top > 3 ? 2 : 1;
  const out = [];
  for (let e = step; e <= top; e += step) out.push(10 ** e);
  return out;
}

/**
 * A horizontal 100% bar split by share, with a text label per segment wide enough to hold it.
 * `parts`: [{label, value, color}]. Decorative: the table beside it carries the numbers.
 */
export function stackedBar(parts, { label } = {}) {
  const total = parts.reduce((a, p) => a + p.value, 0) || 1;
  return h(
    'div',
    {
      class: 'stacked',
      role: 'img',
      'aria-label': label ?? parts.map((p) => `${p.label} ${pct(p.value / total)}`).join(', '),
    },
    parts
      .filter((p) => p.value > 0)
      .map((p) => {
        const share = p.value / total;
        return h(
          'span',
          {
            class: 'stacked-seg',
            style: { flexGrow: String(share), backgroundColor: p.color },
            title: `${p.label}: ${pct(share)}`,
          },
          share >= 0.12 ? h('span', { class: 'stacked-text', 'aria-hidden': 'true' }, pct(share, 0)) : null,
        );
      }),
  );
}

/** A thin bar filled to `share` of its track (0–1). Decorative. */
export function meter(share, cls = '') {
  return h(
    'span',
    { class: `meter ${cls}`, 'aria-hidden': 'true' },
    h('span', { class: 'meter-fill', style: { width: `${Math.min(Math.max(share, 0), 1) * 100}%` } }),
  );
}
