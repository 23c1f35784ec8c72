// Compare: two architectures or specs through POST /analyze {compare: [A, B]}: the deltas, each
// side's blocks, and one-click presets for the lecture's comparisons.

import { clientError, showError } from './api.js';
import { analysisForm } from './analysis-form.js';
import { $, h, scroller } from './dom.js';
import {
  architectureOptions,
  architectures,
  inception3aWithoutBottlenecks,
  parseSpec,
  prettyJson,
} from './architectures.js';
import { bytes, compact, int, pct, ratio, shape, shortName, signed } from './format.js';
import { PALETTE } from './charts.js';

const SPEC = '__spec__';
const json = (spec) => prettyJson(spec);

const PRESETS = [
  {
    label: 'plain34 vs resnet34',
    note: 'what the shortcuts add',
    a: { model: 'plain34' },
    b: { model: 'resnet34' },
  },
  {
    label: 'seed_5x5 vs seed_5x5_bottleneck',
    note: 'one 5x5 conv, with and without a 1x1 in front',
    a: { model: 'seed_5x5' },
    b: { model: 'seed_5x5_bottleneck' },
  },
  {
    label: 'inception (3a) without vs with 1x1 bottlenecks',
    note: 'the same module widths on 28×28×192',
    a: { spec: inception3aWithoutBottlenecks() },
    b: { model: 'inception_3a' },
  },
];

/** Rows of the delta table: key in comparison.totals, label, formatter. */
const METRICS = [
  ['params', 'Parameters', int],
  ['trainableParams', 'Trainable parameters', int],
  ['macs', 'MACs per image', compact],
  ['flops', 'FLOPs per image', compact],
  ['weightBytes', 'Weight memory', bytes],
  ['peakActivationBytes', 'Peak activation memory', bytes],
  ['layers', 'Layers', int],
  ['elementOps', 'Element ops (non-MAC)', compact],
];

let loaded = false;

export function initCompare() {
  $('#compare-presets').append(
    ...PRESETS.map((p) =>
      h(
        'button',
        { type: 'button', class: 'preset', onclick: () => applyPreset(p) },
        h('span', { class: 'preset-label' }, p.label),
        h('span', { class: 'preset-note' }, p.note),
      ),
    ),
  );
  for (const side of ['a', 'b']) $(`#compare-${side}`).addEventListener('change', () => syncSide(side));
  $('#compare-swap').addEventListener('click', swap);
  $('#compare-form').addEventListener('submit', (event) => {
    event.preventDefault();
    compare();
  });
  load();
}

async function load() {
  try {
    const list = await architectures();
    for (const [side, initial] of [
      ['a', 'plain34'],
      ['b', 'resnet34'],
    ]) {
      const select = $(`#compare-${side}`);
      select.replaceChildren(
        ...architectureOptions(list),
        h('option', { value: SPEC }, 'Custom spec (JSON)…'),
      );
      select.disabled = false;
      select.value = list.some((x) => x.name === initial) ? initial : list[0].name;
    }
    loaded = true;
  } catch (err) {
    showError($('#compare-error'), err);
  }
}

function syncSide(side) {
  const custom = $(`#compare-${side}`).value === SPEC;
  $(`#compare-${side}-spec-wrap`).hidden = !custom;
  if (custom && !$(`#compare-${side}-spec`).value.trim())
    $(`#compare-${side}-spec`).value = json(inception3aWithoutBottlenecks());
}

function setSide(side, target) {
  if (target.spec) {
    $(`#compare-${side}`).value = SPEC;
    $(`#compare-${side}-spec`).value = json(target.spec);
  } else {
    $(`#compare-${side}`).value = target.model;
  }
  syncSide(side);
}

async function applyPreset(preset) {
  if (!loaded) await load();
  setSide('a', preset.a);
  setSide('b', preset.b);
  compare();
}

function swap() {
  const a = { value: $('#compare-a').value, spec: $('#compare-a-spec').value };
  $('#compare-a').value = $('#compare-b').value;
  $('#compare-a-spec').value = $('#compare-b-spec').value;
  $('#compare-b').value = a.value;
  $('#compare-b-spec').value = a.spec;
  syncSide('a');
  syncSide('b');
}

function target(side) {
  const value = $(`#compare-${side}`).value;
  if (value !== SPEC) return { model: value };
  const parsed = parseSpec($(`#compare-${side}-spec`).value);
  if (parsed.error)
    throw clientError('INVALID_SPEC_JSON', `Side ${side.toUpperCase()}: ${parsed.error}`, {
      field: `compare.${side}`,
    });
  return { spec: parsed.spec };
}

const compare = analysisForm({
  prefix: 'compare',
  busy: () => 'Comparing…',
  failed: 'Comparison failed',
  build: () => ({ body: { compare: [target('a'), target('b')] } }),
  render: renderComparison,
  summary: (res) => {
    const [a, b] = res.reports;
    const m = res.comparison.totals.macs;
    return `Compared ${a.model} with ${b.model}: MACs ${compact(m.a)} vs ${compact(m.b)}, ${ratio(m.ratio)}.`;
  },
});

function change(d, fmt) {
  const rel = d.a ? (d.b - d.a) / d.a : NaN;
  return `${signed(d.delta, fmt)}${Number.isFinite(rel) && d.delta !== 0 ? ` (${rel > 0 ? '+' : '−'}${pct(Math.abs(rel))})` : ''}`;
}

function renderComparison({ reports: [a, b], comparison: c }) {
  const t = c.totals;
  return h(
    'div',
    { class: 'comparison' },
    headline(a, b, t),
    h(
      'div',
      { class: 'sides' },
      [a, b].map((r, i) => sideCard(r, i === 0 ? 'A' : 'B', c, i === 0 ? 'a' : 'b')),
    ),
    branchComparison(a, b),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'deltas-h' },
      h('h3', { class: 'section-title', id: 'deltas-h' }, 'Deltas (B − A)'),
      scroller(
        'Deltas between A and B',
        h(
          'table',
          { class: 'data deltas' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Metric'),
              h('th', { scope: 'col', class: 'num' }, `A: ${a.model}`),
              h('th', { scope: 'col', class: 'num' }, `B: ${b.model}`),
              h('th', { scope: 'col', class: 'num' }, 'Δ B − A'),
              h('th', { scope: 'col', class: 'num' }, 'Ratio B/A'),
              h(
                'th',
                { scope: 'col', class: 'pair-col' },
                h('span', { class: 'visually-hidden' }, 'A and B to scale'),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            METRICS.filter(([k]) => t[k]).map(([k, label, fmt]) => {
              const d = t[k];
              const max = Math.max(d.a, d.b) || 1;
              return h(
                'tr',
                {},
                h('th', { scope: 'row' }, label),
                h('td', { class: 'num' }, fmt(d.a)),
                h('td', { class: 'num' }, fmt(d.b)),
                h(
                  'td',
                  { class: `num delta ${d.delta > 0 ? 'up' : d.delta < 0 ? 'down' : ''}` },
                  change(d, fmt),
                ),
                h('td', { class: 'num strong' }, ratio(d.ratio)),
                h(
                  'td',
                  { class: 'pair-col', 'aria-hidden': 'true' },
                  h(
                    'span',
                    { class: 'pair' },
                    h('span', { class: 'pair-bar pair-a', style: { width: `${(d.a / max) * 100}%` } }),
                    h('span', { class: 'pair-bar pair-b', style: { width: `${(d.b / max) * 100}%` } }),
                  ),
                ),
              );
            }),
          ),
        ),
      ),
    ),
  );
}

function headline(a, b, t) {
  const m = t.macs;
  const p = t.params;
  const fewer = m.ratio < 1;
  return h(
    'p',
    { class: 'compare-headline card' },
    h('strong', {}, b.model),
    ` needs ${ratio(m.ratio).replace('×', '')}× the MACs of `,
    h('strong', {}, a.model),
    ': ',
    h('span', { class: 'nowrap' }, `${compact(m.b)} instead of ${compact(m.a)}`),
    ` (${signed(m.delta, compact)}${fewer && m.b ? `, ${(m.a / m.b).toFixed(1)}× fewer` : ''}), and has `,
    `${int(p.b)} instead of ${int(p.a)} parameters (${signed(p.delta, int)}).`,
  );
}

function sideCard(r, letter, c, key) {
  const blocks = c.blocks?.[key] ?? {
    residual: r.blocks.residual.length,
    inception: r.blocks.inception.length,
  };
  const bottlenecks = c.bottlenecks?.[key] ?? r.bottlenecks.length;
  return h(
    'section',
    { class: `card side-card side-${key}`, 'aria-label': `Side ${letter}: ${r.model}` },
    h('p', { class: 'side-letter', 'aria-hidden': 'true' }, letter),
    h('h3', { class: 'side-title' }, r.model),
    h('p', { class: 'hint' }, `${shape(r.input)} → ${shape(r.output)}`),
    h(
      'dl',
      { class: 'side-stats' },
      h('div', {}, h('dt', {}, 'Params'), h('dd', {}, compact(r.totals.params))),
      h('div', {}, h('dt', {}, 'MACs'), h('dd', {}, compact(r.totals.macs))),
      h('div', {}, h('dt', {}, 'Peak act.'), h('dd', {}, bytes(r.totals.peakActivationBytes))),
    ),
    h(
      'ul',
      { class: 'block-counts', 'aria-label': 'Blocks' },
      h(
        'li',
        {},
        h('strong', {}, String(blocks.residual)),
        ` residual block${blocks.residual === 1 ? '' : 's'}`,
      ),
      h(
        'li',
        {},
        h('strong', {}, String(blocks.inception)),
        ` inception module${blocks.inception === 1 ? '' : 's'}`,
      ),
      h('li', {}, h('strong', {}, String(bottlenecks)), ` bottleneck${bottlenecks === 1 ? '' : 's'}`),
      h('li', {}, h('strong', {}, String(r.totals.layers)), ' layers'),
    ),
  );
}

/** When each side is one inception module, its MACs by branch, both bars to one scale. */
function branchComparison(a, b) {
  if (a.blocks.inception.length !== 1 || b.blocks.inception.length !== 1) return null;
  const max = Math.max(a.totals.macs, b.totals.macs) || 1;
  const names = [
    ...new Set(
      [a, b].flatMap((r) =>
        r.blocks.inception[0].branches.map((x) => shortName(x.name, r.blocks.inception[0].name)),
      ),
    ),
  ];
  const color = (name) => PALETTE[names.indexOf(name) % PALETTE.length];
  const row = (r, letter) => {
    const m = r.blocks.inception[0];
    return [
      h('span', { class: 'scaled-label' }, `${letter}: ${r.model}`),
      h(
        'span',
        { class: 'scaled-track', 'aria-hidden': 'true' },
        h(
          'span',
          { class: 'stacked scaled', style: { width: `${(m.macs / max) * 100}%` } },
          m.branches
            .filter((x) => x.macs > 0)
            .map((x) =>
              h('span', {
                class: 'stacked-seg',
                style: { flexGrow: String(x.macs), backgroundColor: color(shortName(x.name, m.name)) },
              }),
            ),
        ),
      ),
      h('span', { class: 'scaled-value' }, `${compact(m.macs)} MACs`),
    ];
  };
  const branchRows = names.map((n) => {
    const find = (r) =>
      r.blocks.inception[0].branches.find((x) => shortName(x.name, r.blocks.inception[0].name) === n);
    const x = find(a);
    const y = find(b);
    return h(
      'tr',
      {},
      h(
        'th',
        { scope: 'row', class: 'name' },
        h('span', { class: 'swatch', style: { backgroundColor: color(n) }, 'aria-hidden': 'true' }),
        n,
      ),
      h('td', { class: 'num' }, x ? compact(x.macs) : '–'),
      h('td', { class: 'num' }, y ? compact(y.macs) : '–'),
      h('td', { class: 'num' }, x && y ? signed(y.macs - x.macs, compact) : '–'),
    );
  });
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'branch-cmp-h' },
    h('h3', { class: 'section-title', id: 'branch-cmp-h' }, 'MACs by branch, to scale'),
    h('div', { class: 'scaled-bars' }, row(a, 'A'), row(b, 'B')),
    scroller(
      'MACs by branch',
      h(
        'table',
        { class: 'data compact' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Branch'),
            h('th', { scope: 'col', class: 'num' }, 'A'),
            h('th', { scope: 'col', class: 'num' }, 'B'),
            h('th', { scope: 'col', class: 'num' }, 'Δ B − A'),
          ),
        ),
        h('tbody', {}, branchRows),
      ),
    ),
  );
}
