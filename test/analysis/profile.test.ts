// Grouping measured time into rows of spec layers: which layer owns which (folding and fusion rules),
// and the report's accounting on hand-made timings (medians, shares over the rows, GFLOP/s, untimed).
import t from 'tap';
import { analyzeGraph } from '../../src/analysis/analyze.js';
import { layerOwners, median, profileReport, UNATTRIBUTED } from '../../src/analysis/profile.js';
import { normalizeSpec } from '../../src/spec/normalize.js';

const graph = normalizeSpec({
  name: 'owners',
  input: [8, 8, 2],
  layers: [
    { kind: 'conv2d', name: 'c1', filters: 4, kernel: 3, padding: 'same' },
    { kind: 'batchnorm', name: 'c1_bn' },
    { kind: 'activation', name: 'c1_relu', function: 'relu' },
    // Read twice: the relu after it has a conv producer, but the conv's output has two readers.
    { kind: 'conv2d', name: 'c2', filters: 4, kernel: 1 },
    {
      kind: 'branches',
      name: 'split',
      branches: [
        { layers: [{ kind: 'activation', name: 'b1_relu', function: 'relu' }] },
        { layers: [{ kind: 'batchnorm', name: 'b2_bn' }] },
      ],
    },
    { kind: 'globalavgpool', name: 'pool' },
    { kind: 'dropout', name: 'drop', rate: 0.5 },
    { kind: 'dense', name: 'fc', units: 3 },
    { kind: 'activation', name: 'softmax', function: 'softmax' },
  ],
} as never);

t.test('a folded batch norm and an activation that alone reads a conv or dense belong to it', async (t) => {
  const owners = layerOwners(graph);
  t.equal(owners.get('c1_bn'), 'c1');
  t.equal(owners.get('c1_relu'), 'c1', 'through the folded batch norm');
  t.equal(owners.get('b1_relu'), 'b1_relu', "c2's output has two readers: nothing joins it");
  t.equal(owners.get('b2_bn'), 'b2_bn');
  t.equal(owners.get('softmax'), 'softmax', 'the output layer is not fused away');
  t.equal(owners.get('pool'), 'pool');
});

t.test(
  'rows: medians per owner, shares of their sum, GFLOP/s from MACs, every layer accounted once',
  async (t) => {
    const layers = analyzeGraph(graph).layers;
    const macs = new Map(layers.map((l) => [l.name, l.macs]));
    const runs: Record<string, number>[] = [
      {
        c1: 1,
        c1_relu: 0.5,
        c2: 2,
        b1_relu: 0.1,
        b2_bn: 0.1,
        pool: 0.2,
        fc: 0.1,
        split: 0.1,
        [UNATTRIBUTED]: 0.4,
      },
      { c1: 3, c2: 2, b1_relu: 0.1, b2_bn: 0.1, pool: 0.2, fc: 0.1, split: 0.1, [UNATTRIBUTED]: 0.2 },
      { c1: 2, c2: 4, b1_relu: 0.1, b2_bn: 0.1, pool: 0.2, fc: 0.1, split: 0.1, [UNATTRIBUTED]: 0.3 },
    ];
    const report = profileReport(graph, layers, {
      engine: 'test',
      method: 'hand-made',
      batch: 2,
      runs,
      runMs: [5, 7, 6],
      unattributedNodes: ['input_nchw'],
    });
    const c1 = report.rows.find((r) => r.layer === 'c1');
    t.same(c1?.layers, ['c1', 'c1_bn', 'c1_relu']);
    t.equal(c1?.medianMs, 2, 'median of 1.5, 3 and 2 ms (the relu timed apart joins its conv)');
    t.equal(c1?.macs, 2 * (macs.get('c1') ?? 0), 'MACs for the batch of 2');
    t.equal(c1?.gflops, (2 * (c1?.macs ?? 0)) / (2 * 1e6));
    t.equal(report.rows.at(-1)?.layer, UNATTRIBUTED);
    t.equal(report.rows.at(-1)?.medianMs, 0.3);
    const total = report.rows.reduce((s, r) => s + r.medianMs, 0);
    t.equal(report.totalMs, total);
    t.ok(Math.abs(report.rows.reduce((s, r) => s + r.share, 0) - 1) < 1e-12, 'shares sum to 1');
    t.equal(report.runMs, 6);
    t.same(report.untimed, ['drop', 'softmax'], 'layers no engine node ran for');
    const accounted = [...report.rows.flatMap((r) => r.layers), ...report.untimed].sort();
    t.same(accounted, graph.nodes.map((n) => n.name).sort());
    t.throws(
      () =>
        profileReport(graph, layers, { ...report, runs: [{ nope: 1 }], runMs: [1], unattributedNodes: [] }),
      /nope, which is not a layer of owners/,
      'a timing that names no layer is a bug, not a silent drop',
    );
  },
);

t.test('median of odd and even counts', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
});
