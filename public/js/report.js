// One /analyze report, drawn: totals, what the 1x1 bottlenecks save, the per-layer chart, the most
// expensive layers, and the layer table grouped into residual blocks and inception modules.

import { h, scroller } from './dom.js';
import { bytes, compact, field, fold, int, pct, shape, shortName } from './format.js';
import { layerChart, meter, PALETTE, stackedBar } from './charts.js';

let chartIds = 0;

export function renderReport(report) {
  const id = `report-${++chartIds}`;
  return h(
    'div',
    { class: 'report' },
    h(
      'div',
      { class: 'report-head' },
      h('h3', { class: 'report-title' }, report.model),
      h(
        'p',
        { class: 'hint' },
        `Input ${shape(report.input)} → output ${shape(report.output)}${report.batch > 1 ? ` · batch ${report.batch}` : ''}`,
      ),
    ),
    totalsCards(report),
    report.training ? trainingSection(report.training, id) : null,
    report.bottlenecks.length ? bottleneckSection(report, id) : null,
    report.blocks.inception.length === 1
      ? branchSection(report.blocks.inception[0], report.totals.macs, { heading: true })
      : null,
    h(
      'section',
      { class: 'card', 'aria-labelledby': `${id}-chart-h` },
      h('h4', { id: `${id}-chart-h`, class: 'section-title' }, 'Cost per layer'),
      layerChart(report, `${id}-chart`),
    ),
    topLayersSection(report, id),
    layersSection(report, id),
    conventionsSection(report),
  );
}

// --- totals --------------------------------------------------------------------------------

/** "16 residual blocks · 15 bottlenecks": the non-zero counts only. */
function blockCounts(report) {
  const counts = [
    [report.blocks.residual.length, 'residual block'],
    [report.blocks.inception.length, 'inception module'],
    [report.bottlenecks.length, 'bottleneck'],
  ].filter(([n]) => n > 0);
  return counts.length
    ? counts.map(([n, what]) => `${n} ${what}${n === 1 ? '' : 's'}`).join(' · ')
    : 'no residual or inception blocks';
}

function totalsCards(report) {
  const t = report.totals;
  const card = (label, value, ...sub) =>
    h(
      'div',
      { class: 'stat' },
      h('dt', {}, label),
      h(
        'dd',
        {},
        h('span', { class: 'stat-value' }, value),
        ...sub.filter(Boolean).map((x) => h('span', { class: 'stat-sub' }, x)),
      ),
    );
  return h(
    'dl',
    { class: 'stats', 'aria-label': 'Totals' },
    card(
      'Parameters',
      compact(t.params),
      int(t.params),
      `${int(t.trainableParams)} trainable · ${int(t.nonTrainableParams)} non-trainable`,
    ),
    card('MACs per image', compact(t.macs), int(t.macs), `${compact(t.flops)} FLOPs`),
    card('Layers', int(t.layers), blockCounts(report)),
    card('Weights (float32)', bytes(t.weightBytes), `${compact(t.elementOps)} element ops besides MACs`),
    card(
      'Peak activations',
      bytes(t.peakActivationBytes),
      t.peakActivationLayer
        ? `at ${t.peakActivationLayer}${report.batch > 1 ? `, batch ${report.batch}` : ''}`
        : null,
      `${bytes(t.activationBytesPerImage)} of outputs per image`,
    ),
  );
}

// --- training --------------------------------------------------------------------------------

const OPTIMIZER_NAMES = { sgd: 'SGD', momentum: 'SGD with momentum', adam: 'Adam' };

/** What one training step holds in memory, by part, and the MACs it computes. */
function trainingSection(training, id) {
  const b = training.bytes;
  const m = training.macs;
  const parts = [
    ['Weights', b.weights],
    ['Gradients', b.gradients],
    ['Optimizer state', b.optimizerState],
    ['Saved activations', b.savedActivations],
  ].map(([label, value], i) => ({ label, value, color: PALETTE[i % PALETTE.length] }));
  return h(
    'section',
    { class: 'card training', 'aria-labelledby': `${id}-training-h` },
    h(
      'h4',
      { id: `${id}-training-h`, class: 'section-title' },
      `One training step: ${OPTIMIZER_NAMES[training.optimizer] ?? training.optimizer}, batch ${int(training.batch)}`,
    ),
    stackedBar(parts),
    h(
      'dl',
      { class: 'stats', 'aria-label': 'Training step' },
      [...parts, { label: 'Total memory', value: b.total }].map(({ label, value, color }) =>
        h(
          'div',
          { class: 'stat' },
          h(
            'dt',
            {},
            color
              ? h('span', { class: 'swatch', style: { backgroundColor: color }, 'aria-hidden': 'true' })
              : null,
            label,
          ),
          h(
            'dd',
            {},
            h('span', { class: 'stat-value' }, bytes(value)),
            h('span', { class: 'stat-sub' }, `${int(value)} bytes`),
          ),
        ),
      ),
      h(
        'div',
        { class: 'stat' },
        h('dt', {}, 'MACs per step'),
        h(
          'dd',
          {},
          h('span', { class: 'stat-value' }, compact(m.step)),
          h(
            'span',
            { class: 'stat-sub' },
            `forward ${compact(m.forward)} · input gradients ${compact(m.backwardInput)} · weight gradients ${compact(m.backwardWeights)}`,
          ),
        ),
      ),
    ),
  );
}

// --- bottlenecks -----------------------------------------------------------------------------

const SHOWN_BOTTLENECKS = 3;

/** Bottlenecks with the same geometry (ResNet repeats one per stage block) shown once, with a count. */
function groupBottlenecks(list) {
  const groups = new Map();
  for (const b of list) {
    const key = [b.kernel, b.inputShape, b.reducedChannels, b.outputShape].map(String).join('|');
    if (groups.has(key)) groups.get(key).others.push(b.conv);
    else groups.set(key, { ...b, others: [] });
  }
  // Largest saving first: the lecture's 5x5 leads inception (3a), ahead of its 3x3.
  return [...groups.values()].sort((a, b) => b.macsWithout - b.macsWith - (a.macsWithout - a.macsWith));
}

function bottleneckSection(report, id) {
  const list = report.bottlenecks;
  const groups = groupBottlenecks(list);
  const without = list.reduce((a, b) => a + b.macsWithout, 0);
  const withIt = list.reduce((a, b) => a + b.macsWith, 0);
  const rest = groups.slice(SHOWN_BOTTLENECKS);
  return h(
    'section',
    { class: 'card savings', 'aria-labelledby': `${id}-savings-h` },
    h('h4', { class: 'section-title', id: `${id}-savings-h` }, 'What the 1x1 bottlenecks save'),
    list.length > 1
      ? h(
          'p',
          { class: 'hint' },
          `${list.length} k×k convs read a channel-reducing 1x1 conv. On their unreduced inputs they would need ${compact(without)} MACs in all; with the reductions, ${compact(withIt)} (${fold(withIt / without)}).`,
        )
      : null,
    groups.slice(0, SHOWN_BOTTLENECKS).map(savingCard),
    rest.length
      ? h(
          'details',
          { class: 'more' },
          h('summary', {}, `${rest.length} more kind${rest.length === 1 ? '' : 's'} of bottleneck`),
          scroller(
            'More bottlenecks',
            h(
              'table',
              { class: 'data compact' },
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['Conv', 'Kernel', 'Channels', 'Reduced to', 'Without', 'With', 'Saving'].map((c, i) =>
                    h('th', { scope: 'col', class: i >= 4 ? 'num' : '' }, c),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                rest.map((b) =>
                  h(
                    'tr',
                    {},
                    h(
                      'td',
                      { class: 'name' },
                      b.conv,
                      b.others.length ? h('span', { class: 'muted' }, ` and ${b.others.length} more`) : null,
                    ),
                    h('td', {}, b.kernel.join('×')),
                    h('td', { class: 'nowrap' }, `${b.inputShape[2]} → ${b.outputShape[2]}`),
                    h('td', {}, String(b.reducedChannels)),
                    h('td', { class: 'num' }, compact(b.macsWithout)),
                    h('td', { class: 'num' }, compact(b.macsWith)),
                    h('td', { class: 'num' }, fold(b.ratio)),
                  ),
                ),
              ),
            ),
          ),
        )
      : null,
  );
}

function savingCard(b) {
  const k = b.kernel.join('×');
  const max = b.macsWithout || 1;
  const alike = b.others.length
    ? ` The same holds for ${b.others.length} more conv${b.others.length === 1 ? '' : 's'} of this shape (${b.others.slice(0, 3).join(', ')}${b.others.length > 3 ? ', …' : ''}).`
    : '';
  return h(
    'article',
    { class: 'saving' },
    h(
      'p',
      { class: 'saving-headline' },
      h('strong', { class: 'num-without' }, compact(b.macsWithout)),
      ' multiplications without the 1x1 bottleneck, ',
      h('strong', { class: 'num-with' }, compact(b.macsWith)),
      ' with it',
      h('span', { class: 'pill' }, fold(b.ratio)),
    ),
    h(
      'p',
      { class: 'saving-sub' },
      h('code', {}, b.conv),
      `: ${k} conv, ${b.inputShape[2]} → ${b.outputShape[2]} channels at ${b.outputShape[0]}×${b.outputShape[1]}, fed by `,
      h('code', {}, b.reduction),
      ` (1x1 to ${b.reducedChannels} channels). Parameters ${int(b.paramsWithout)} → ${int(b.paramsWith)}.${alike}`,
    ),
    h(
      'div',
      { class: 'saving-bars' },
      h('span', { class: 'saving-label' }, 'Without'),
      h(
        'span',
        { class: 'saving-track', 'aria-hidden': 'true' },
        h('span', { class: 'seg seg-without', style: { width: '100%' } }),
      ),
      h('span', { class: 'saving-value' }, `${compact(b.macsWithout)}: ${k} on ${b.inputShape[2]} channels`),
      h('span', { class: 'saving-label' }, 'With'),
      h(
        'span',
        { class: 'saving-track', 'aria-hidden': 'true' },
        h('span', { class: 'seg seg-reduce', style: { width: `${(b.reductionMacs / max) * 100}%` } }),
        h('span', { class: 'seg seg-conv', style: { width: `${(b.convMacs / max) * 100}%` } }),
      ),
      h(
        'span',
        { class: 'saving-value' },
        `${compact(b.macsWith)} = `,
        h('span', { class: 'key key-reduce' }, `${compact(b.reductionMacs)} 1x1`),
        ' + ',
        h('span', { class: 'key key-conv' }, `${compact(b.convMacs)} ${k}`),
      ),
    ),
  );
}

// --- inception branches ----------------------------------------------------------------------

/** One inception module's cost by branch: a stacked MAC-share bar and a table with shares. */
export function branchSection(module, totalMacs, { heading = false } = {}) {
  const parts = module.branches.map((b, i) => ({
    label: shortName(b.name, module.name),
    value: b.macs,
    color: PALETTE[i % PALETTE.length],
  }));
  const body = [
    h(
      'p',
      { class: 'hint' },
      `${shape(module.inputShape)} → ${shape(module.outputShape)} · ${int(module.params)} params · ${compact(module.macs)} MACs${totalMacs && module.macs !== totalMacs ? ` (${pct(module.macs / totalMacs)} of the network)` : ''}`,
    ),
    stackedBar(parts, {
      label: `MACs by branch of ${module.name}: ${parts.map((p) => `${p.label} ${pct(p.value / (module.macs || 1))}`).join(', ')}`,
    }),
    scroller(
      `Branches of ${module.name}`,
      h(
        'table',
        { class: 'data compact branches' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Branch'),
            h('th', { scope: 'col', class: 'num' }, 'Channels out'),
            h('th', { scope: 'col', class: 'num' }, 'Params'),
            h('th', { scope: 'col', class: 'num' }, 'Share'),
            h('th', { scope: 'col', class: 'num' }, 'MACs'),
            h('th', { scope: 'col', class: 'num' }, 'Share'),
          ),
        ),
        h(
          'tbody',
          {},
          module.branches.map((b, i) =>
            h(
              'tr',
              {},
              h(
                'th',
                { scope: 'row', class: 'name' },
                h('span', {
                  class: 'swatch',
                  style: { backgroundColor: parts[i].color },
                  'aria-hidden': 'true',
                }),
                parts[i].label,
              ),
              h('td', { class: 'num' }, int(b.outputChannels)),
              h('td', { class: 'num' }, int(b.params)),
              h('td', { class: 'num' }, pct(b.paramShare)),
              h('td', { class: 'num' }, compact(b.macs)),
              h('td', { class: 'num strong' }, pct(b.macShare)),
            ),
          ),
        ),
      ),
    ),
  ];
  if (!heading) return h('div', { class: 'branch-breakdown' }, body);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': `branches-${module.name}-h` },
    h(
      'h4',
      { class: 'section-title', id: `branches-${module.name}-h` },
      `Inception module ${module.name}: cost by branch`,
    ),
    body,
  );
}

// --- most expensive layers -------------------------------------------------------------------

function topLayersSection(report, id) {
  const top = (report.topLayers ?? []).slice(0, 5);
  if (top.length < 2) return null;
  return h(
    'section',
    { class: 'card', 'aria-labelledby': `${id}-top-h` },
    h('h4', { class: 'section-title', id: `${id}-top-h` }, 'Most expensive layers'),
    scroller(
      'Most expensive layers',
      h(
        'table',
        { class: 'data compact' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Layer'),
            h('th', { scope: 'col' }, 'Kind'),
            h('th', { scope: 'col' }, 'Output'),
            h('th', { scope: 'col', class: 'num' }, 'MACs'),
            h('th', { scope: 'col', class: 'share-col' }, 'Share of MACs'),
          ),
        ),
        h(
          'tbody',
          {},
          top.map((l) =>
            h(
              'tr',
              {},
              h('td', { class: 'name' }, l.name),
              h('td', {}, l.kind),
              h('td', {}, shape(l.outputShape)),
              h('td', { class: 'num' }, compact(l.macs)),
              h(
                'td',
                { class: 'share-col' },
                h(
                  'span',
                  { class: 'share' },
                  meter(l.macShare),
                  h('span', { class: 'share-text' }, pct(l.macShare)),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// --- layers, grouped by block ----------------------------------------------------------------

/** Nests the layers by blockPath: [{type: 'layer', layer} | {type: 'group', name, children}]. */
function layerTree(layers) {
  const root = { children: [] };
  let stack = [root];
  let path = [];
  for (const layer of layers) {
    const bp = layer.blockPath ?? [];
    let k = 0;
    while (k < path.length && k < bp.length && path[k] === bp[k]) k++;
    stack = stack.slice(0, k + 1);
    path = path.slice(0, k);
    for (let j = k; j < bp.length; j++) {
      const group = { type: 'group', name: bp[j], children: [] };
      stack[stack.length - 1].children.push(group);
      stack.push(group);
      path.push(bp[j]);
    }
    stack[stack.length - 1].children.push({ type: 'layer', layer });
  }
  return root.children;
}

function sumLayers(node) {
  if (node.type === 'layer') return { params: node.layer.params, macs: node.layer.macs, count: 1 };
  return node.children
    .map(sumLayers)
    .reduce((a, b) => ({ params: a.params + b.params, macs: a.macs + b.macs, count: a.count + b.count }), {
      params: 0,
      macs: 0,
      count: 0,
    });
}

function layersSection(report, id) {
  const residual = new Map(report.blocks.residual.map((b) => [b.name, b]));
  const inception = new Map(report.blocks.inception.map((b) => [b.name, b]));
  const branchOf = new Map();
  for (const m of report.blocks.inception)
    for (const [i, b] of m.branches.entries())
      branchOf.set(b.name, { module: m, branch: b, color: PALETTE[i % PALETTE.length] });
  const tree = layerTree(report.layers);
  const groups = tree.filter((n) => n.type === 'group').length;
  // A single module's branch costs are already drawn above the table: do not repeat them.
  // The MACs cell's bar is relative to the costliest layer, so heavy rows stand out.
  const maxLayerMacs = Math.max(1, ...report.layers.map((l) => l.macs));
  const ctx = {
    residual,
    inception,
    branchOf,
    maxLayerMacs,
    totals: report.totals,
    openAll: groups <= 3,
    branchesShown: report.blocks.inception.length === 1,
  };
  const content = h('div', { class: 'layer-groups' }, renderNodes(tree, ctx, null));
  const setAll = (open) => () =>
    content.querySelectorAll('details').forEach((d) => {
      d.open = open;
    });
  return h(
    'section',
    { class: 'card', 'aria-labelledby': `${id}-layers-h` },
    h(
      'div',
      { class: 'section-head' },
      h('h4', { class: 'section-title', id: `${id}-layers-h` }, `Layers (${report.layers.length})`),
      groups
        ? h(
            'div',
            { class: 'button-row' },
            h('button', { type: 'button', class: 'secondary small', onclick: setAll(true) }, 'Expand all'),
            h('button', { type: 'button', class: 'secondary small', onclick: setAll(false) }, 'Collapse all'),
          )
        : null,
    ),
    groups
      ? h(
          'p',
          { class: 'hint' },
          'Residual blocks and inception modules are collapsible groups; each row is one layer.',
        )
      : null,
    content,
  );
}

function renderNodes(nodes, ctx, parent) {
  const out = [];
  let run = [];
  const flush = () => {
    if (run.length) out.push(layerTable(run, ctx, parent));
    run = [];
  };
  for (const node of nodes) {
    if (node.type === 'layer') run.push(node.layer);
    else {
      flush();
      out.push(groupDetails(node, ctx, parent));
    }
  }
  flush();
  return out;
}

function groupDetails(node, ctx, parent) {
  const res = ctx.residual.get(node.name);
  const inc = ctx.inception.get(node.name);
  const br = ctx.branchOf.get(node.name);
  const sum = sumLayers(node);
  const params = res?.params ?? inc?.params ?? br?.branch.params ?? sum.params;
  const macs = res?.macs ?? inc?.macs ?? br?.branch.macs ?? sum.macs;
  const share = ctx.totals.macs ? macs / ctx.totals.macs : 0;
  let kind = 'Group';
  let cls = 'group';
  let detail = null;
  let extra = null;
  if (res) {
    kind = 'Residual';
    cls = 'group group-residual';
    detail = `${res.shortcut} shortcut${res.preactivation ? ', pre-activation' : ''}`;
    extra = h(
      'p',
      { class: 'hint' },
      `${shape(res.inputShape)} → ${shape(res.outputShape)} · shortcut: ${res.shortcut}${res.shortcutParams ? `, ${int(res.shortcutParams)} params, ${compact(res.shortcutMacs)} MACs` : ', no parameters'}`,
    );
  } else if (inc) {
    kind = 'Inception';
    cls = 'group group-inception';
    detail = `${inc.branches.length} branches`;
    extra = ctx.branchesShown
      ? h(
          'p',
          { class: 'hint' },
          `${shape(inc.inputShape)} → ${shape(inc.outputShape)} · cost by branch above`,
        )
      : branchSection(inc, ctx.totals.macs);
  } else if (br) {
    kind = 'Branch';
    cls = 'group group-branch';
    detail = `${br.branch.outputChannels} channels · ${pct(br.branch.macShare)} of the module`;
  }
  const label = br ? shortName(node.name, br.module.name) : parent ? shortName(node.name, parent) : node.name;
  const details = h(
    'details',
    { class: cls, open: ctx.openAll || Boolean(br) },
    h(
      'summary',
      {},
      h(
        'span',
        { class: 'group-line' },
        h(
          'span',
          { class: 'group-main' },
          br
            ? h('span', { class: 'swatch', style: { backgroundColor: br.color }, 'aria-hidden': 'true' })
            : null,
          h('span', { class: 'group-name' }, label),
          h('span', { class: `badge badge-${kind.toLowerCase()}` }, kind),
          detail ? h('span', { class: 'group-detail' }, detail) : null,
        ),
        h(
          'span',
          { class: 'group-cost' },
          h('span', { class: 'nowrap' }, `${compact(params)} params`),
          h('span', { class: 'nowrap' }, `${compact(macs)} MACs`),
          br
            ? null
            : h('span', { class: 'share' }, meter(share), h('span', { class: 'share-text' }, pct(share))),
        ),
      ),
    ),
    h('div', { class: 'group-body' }, extra, renderNodes(node.children, ctx, node.name)),
  );
  if (br) details.style.setProperty('--branch-color', br.color);
  return details;
}

function layerTable(layers, ctx, parent) {
  const maxMacs = ctx.maxLayerMacs;
  return scroller(
    parent ? `Layers of ${parent}` : 'Layers',
    h(
      'table',
      { class: 'data layers' },
      h(
        'colgroup',
        {},
        ['c-index', 'c-name', 'c-kind', 'c-shape', 'c-num', 'c-macs', 'c-rf'].map((c) =>
          h('col', { class: c }),
        ),
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col', class: 'num' }, '#'),
          h('th', { scope: 'col' }, 'Layer'),
          h('th', { scope: 'col' }, 'Kind'),
          h('th', { scope: 'col' }, 'Output shape'),
          h('th', { scope: 'col', class: 'num' }, 'Params'),
          h('th', { scope: 'col', class: 'num' }, 'MACs'),
          h('th', { scope: 'col' }, 'Receptive field'),
        ),
      ),
      h(
        'tbody',
        {},
        layers.map((l) =>
          h(
            'tr',
            { class: l.macs || l.params ? '' : 'free' },
            h('td', { class: 'num muted' }, String(l.index)),
            h(
              'td',
              { class: 'name' },
              parent
                ? shortName(l.name, parent) === l.name
                  ? l.name
                  : h('span', {}, h('span', { class: 'muted' }, `${parent}_`), shortName(l.name, parent))
                : l.name,
            ),
            h('td', {}, l.kind),
            h('td', { class: 'nowrap' }, shape(l.outputShape)),
            h('td', { class: 'num' }, int(l.params)),
            h(
              'td',
              { class: 'num macs-cell' },
              l.macs ? meter(l.macs / maxMacs, 'cell-meter') : null,
              int(l.macs),
            ),
            h(
              'td',
              { class: 'nowrap' },
              field(l.receptiveField),
              l.receptiveFieldStride && Math.max(...l.receptiveFieldStride) > 1
                ? h('span', { class: 'muted' }, ` jump ${l.receptiveFieldStride[0]}`)
                : null,
            ),
          ),
        ),
      ),
    ),
  );
}

// --- conventions -----------------------------------------------------------------------------

function conventionsSection(report) {
  const entries = Object.entries(report.conventions ?? {});
  if (!entries.length) return null;
  return h(
    'details',
    { class: 'card conventions' },
    h('summary', {}, 'How these figures are counted'),
    h(
      'dl',
      {},
      entries.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
    ),
  );
}
