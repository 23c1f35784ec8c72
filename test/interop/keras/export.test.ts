// The tfjs model.json writer: every zoo model either round-trips (export → import gives the same
// figures, shapes and blocks) or is refused with the layers Keras cannot express; tfjs-layers
// itself loads the exported topologies to the same parameter counts; and each rewrite rule
// (ZeroPadding2D in front of padded convs and pools, same-padding, ceil mode, depthwise) is exact.
import t from 'tap';
import { ZOO } from '../../../models/index.js';
import { analyzeGraph, type AnalysisReport } from '../../../src/analysis/analyze.js';
import { AppError } from '../../../src/errors.js';
import { tfjsModelJsonFromGraph, type TfjsModelJson } from '../../../src/interop/keras/export.js';
import { detectModelFormat, graphFromTfjsModelJson } from '../../../src/interop/keras/import.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import type { ArchitectureSpec, Graph, NodeSpec } from '../../../src/spec/types.js';

/** Zoo models Keras cannot express, and why (none at present; the rules below show what is refused). */
const INEXPRESSIBLE: Record<string, RegExp> = {};

/** A subtest's `t` (the last overload of t.test takes only the callback). */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const roundTrip = (graph: Graph) =>
  graphFromTfjsModelJson(JSON.parse(JSON.stringify(tfjsModelJsonFromGraph(graph))));
const layersOf = (doc: TfjsModelJson) =>
  doc.modelTopology.config.layers as {
    class_name: string;
    name: string;
    config: Record<string, unknown>;
    inbound_nodes: [string, number, number, object][][];
  }[];
const layer = (doc: TfjsModelJson, name: string) => layersOf(doc).find((l) => l.name === name);

function exportError(t: Test, graph: Graph): AppError {
  try {
    tfjsModelJsonFromGraph(graph);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  t.fail('expected the export to be refused');
  return new AppError(0, 'NONE', '');
}

/** Helper layers by suffix, and the classes they may be. */
const HELPER_CLASSES: Record<string, string[]> = {
  _pad: ['ZeroPadding2D'],
  _scale: ['Rescaling'],
  _gate: ['ReLU'],
  _gate_scale: ['Rescaling'],
  _pool: ['GlobalAveragePooling2D', 'GlobalMaxPooling2D'],
  _linear: ['Dense'],
};

const FIGURES = ['params', 'trainableParams', 'nonTrainableParams', 'macs', 'flops', 'elementOps'] as const;
/**
 * Block reports less what the wiring cannot tell: the branch names the spec chose, plain sequences
 * in block paths, and (where activations became several layers) element ops.
 */
function blockView(r: AnalysisReport, withElementOps: boolean) {
  const blocks = new Set([...r.blocks.residual, ...r.blocks.inception].map((b) => b.name));
  const ops = <T extends { elementOps: number }>(b: T) =>
    withElementOps ? b : { ...b, elementOps: undefined };
  return {
    residual: r.blocks.residual.map((b) =>
      ops({ ...b, blockPath: b.blockPath.filter((p) => blocks.has(p)) }),
    ),
    inception: r.blocks.inception.map((b) =>
      ops({
        ...b,
        blockPath: b.blockPath.filter((p) => blocks.has(p)),
        branches: b.branches.map((br) => ops({ ...br, name: undefined, layers: undefined })),
      }),
    ),
  };
}

for (const entry of ZOO.values()) {
  t.test(`${entry.name}: export to model.json and import again`, async (t) => {
    const graph = normalizeSpec(entry.build());
    const before = analyzeGraph(graph);
    if (INEXPRESSIBLE[entry.name]) {
      const err = exportError(t, graph);
      t.equal(err.statusCode, 422);
      t.equal(err.code, 'NOT_EXPRESSIBLE_IN_KERAS');
      t.match(err.message, INEXPRESSIBLE[entry.name]);
      return;
    }
    const doc = tfjsModelJsonFromGraph(graph);
    t.equal(detectModelFormat(doc), 'tfjs-layers-model');
    // Layers the exporter adds, each named after the node it serves (see src/interop/keras/export.ts).
    const nodeNames = new Set(graph.nodes.map((n) => n.name));
    const helpers = layersOf(doc).filter((l) => l.class_name !== 'InputLayer' && !nodeNames.has(l.name));
    const owner = (name: string) => name.replace(/(_gate_scale|_gate|_scale|_pad|_pool|_linear)$/, '');
    t.same(
      helpers
        .filter(
          (l) =>
            !HELPER_CLASSES[l.name.slice(owner(l.name).length)]?.includes(l.class_name) ||
            !nodeNames.has(owner(l.name)),
        )
        .map((l) => l.name),
      [],
      'every added layer is a known helper of an existing node',
    );
    // Activations written as several Keras layers (hard_sigmoid, hard_swish) have one element op per layer.
    const decomposed = new Set(
      helpers
        .filter(
          (l) =>
            (l.class_name === 'Rescaling' &&
              graph.nodes.find((n) => n.name === owner(l.name))?.kind === 'activation') ||
            l.name.endsWith('_gate'),
        )
        .map((l) => owner(l.name)),
    );
    const after = analyzeGraph(graphFromTfjsModelJson(JSON.parse(JSON.stringify(doc))));
    for (const k of FIGURES) {
      if (k === 'elementOps' && decomposed.size)
        t.ok(after.totals[k] > before.totals[k], 'totals.elementOps: more, one per added layer and element');
      else t.equal(after.totals[k], before.totals[k], `totals.${k}`);
    }
    t.equal(
      after.totals.layers,
      before.totals.layers + helpers.length,
      `the same layers plus ${helpers.length} helper layers`,
    );
    t.same(after.output, before.output, 'output shape');
    const rows = new Map(after.layers.map((r) => [r.name, r]));
    const withHelpers = (name: string, pick: (r: AnalysisReport['layers'][number]) => number) =>
      [name, ...helpers.filter((l) => owner(l.name) === name).map((l) => l.name)].reduce(
        (sum, n) => sum + pick(rows.get(n)!),
        0,
      );
    const differing = before.layers.filter((r) => {
      const o = rows.get(r.name);
      if (!o) return true;
      const ops = decomposed.has(r.name) ? r.elementOps : withHelpers(r.name, (x) => x.elementOps);
      return (
        JSON.stringify([
          o.outputShape,
          withHelpers(r.name, (x) => x.params),
          withHelpers(r.name, (x) => x.macs),
          ops,
        ]) !== JSON.stringify([r.outputShape, r.params, r.macs, r.elementOps])
      );
    });
    t.same(
      differing.map((r) => r.name),
      [],
      'every layer keeps its name and output shape, and with its helpers its parameters, MACs and element ops',
    );
    // Blocks are re-detected from the wiring; they must come back as the spec defined them.
    t.same(
      blockView(after, decomposed.size === 0),
      blockView(before, decomposed.size === 0),
      'residual blocks and inception modules come back with the same figures',
    );
  });
}

// tfjs-layers loading every exported zoo topology to the analyzer's shapes and parameter counts:
// test/analysis/builder-agreement.test.ts.

// --- the rewrite rules, one by one ------------------------------------------------------------------

const spec = (layers: NodeSpec[], input: [number, number, number] = [8, 8, 4]): Graph =>
  normalizeSpec({ name: 'rules', input, layers } satisfies ArchitectureSpec);

t.test('explicit conv padding becomes ZeroPadding2D <name>_pad + valid conv', async (t) => {
  const graph = spec([
    {
      kind: 'conv2d',
      name: 'c',
      filters: 2,
      kernel: 3,
      padding: [
        [1, 2],
        [0, 1],
      ],
    },
    { kind: 'conv2d', name: 'z', filters: 2, kernel: 1, padding: 0 },
  ]);
  const doc = tfjsModelJsonFromGraph(graph);
  t.same(layer(doc, 'c_pad')?.config.padding, [
    [1, 2],
    [0, 1],
  ]);
  t.same(layer(doc, 'c')?.inbound_nodes, [[['c_pad', 0, 0, {}]]]);
  t.equal(layer(doc, 'c')?.config.padding, 'valid');
  t.notOk(layer(doc, 'z_pad'), 'zero explicit padding is just "valid"');
  t.same(analyzeGraph(roundTrip(graph)).output, analyzeGraph(graph).output);
});

t.test(
  'pool padding: same-equivalent → "same"; zero pad only where it cannot change the result',
  async (t) => {
    const relu: NodeSpec = { kind: 'activation', name: 'r', function: 'relu' };
    // 3x3/1 pad 1 on 8x8 is exactly TF's same padding.
    let doc = tfjsModelJsonFromGraph(spec([{ kind: 'maxpool', name: 'p', pool: 3, strides: 1, padding: 1 }]));
    t.equal(layer(doc, 'p')?.config.padding, 'same');
    t.notOk(layer(doc, 'p_pad'));
    // 3x3/2 pad 1 on 8x8: TF same pads 0 before, 1 after; PyTorch pads 1 and 1.
    const torchPool: NodeSpec = { kind: 'maxpool', name: 'p', pool: 3, strides: 2, padding: 1 };
    doc = tfjsModelJsonFromGraph(spec([relu, torchPool]));
    t.same(
      layer(doc, 'p_pad')?.config.padding,
      [
        [1, 1],
        [1, 1],
      ],
      'after a ReLU a zero pad never wins the max',
    );
    t.equal(layer(doc, 'p')?.config.padding, 'valid');
    let err = exportError(t, spec([torchPool]));
    t.equal(err.code, 'NOT_EXPRESSIBLE_IN_KERAS');
    t.match(err.message, /may be negative/, 'over the raw input it could');
    doc = tfjsModelJsonFromGraph(
      spec([{ kind: 'avgpool', name: 'a', pool: 3, strides: 2, padding: 1, countIncludePad: true }]),
    );
    t.ok(layer(doc, 'a_pad'), 'an average that counts the padding is a zero pad + valid average');
    err = exportError(t, spec([{ kind: 'avgpool', name: 'a', pool: 3, strides: 2, padding: 1 }]));
    t.match(err.message, /excludes padding/);
  },
);

t.test('ceil mode: exported when it changes nothing, refused when it changes the size', async (t) => {
  const ceil = (input: [number, number, number]) =>
    spec([{ kind: 'maxpool', name: 'p', pool: 2, strides: 2, ceilMode: true }], input);
  const doc = tfjsModelJsonFromGraph(ceil([8, 8, 4]));
  t.equal(layer(doc, 'p')?.config.padding, 'valid');
  t.same(analyzeGraph(roundTrip(ceil([8, 8, 4]))).output, [4, 4, 4]);
  const err = exportError(t, ceil([9, 9, 4]));
  t.match(
    err.message,
    /\(p\): ceil mode gives 5x5 where Keras pooling gives 4x4 \(over a tensor that may be negative\)/,
  );
  // After a ReLU, zeros under the overhang never win: a pad at the bottom and right, then valid.
  const afterRelu = spec(
    [
      { kind: 'activation', name: 'r', function: 'relu' },
      { kind: 'maxpool', name: 'p', pool: 2, strides: 2, ceilMode: true },
    ],
    [9, 9, 4],
  );
  const doc2 = tfjsModelJsonFromGraph(afterRelu);
  t.same(layer(doc2, 'p_pad')?.config.padding, [
    [0, 1],
    [0, 1],
  ]);
  t.same(analyzeGraph(roundTrip(afterRelu)).output, [5, 5, 4]);
});

t.test('refusals list every layer Keras cannot express', async (t) => {
  const graph = spec(
    [
      { kind: 'conv2d', name: 'd', filters: 4, kernel: 3, dilation: 2, strides: 2, padding: 'same' },
      { kind: 'activation', name: 'g', function: 'gelu', approximate: true },
    ],
    [16, 16, 4],
  );
  const err = exportError(t, graph);
  t.same(
    (err.detail.refusals as { layer: string }[]).map((r) => r.layer),
    ['d', 'g'],
  );
});

t.test('conv with groups = input channels is a DepthwiseConv2D and reads back the same', async (t) => {
  const graph = spec([
    { kind: 'conv2d', name: 'dw', filters: 8, kernel: 3, groups: 4, padding: 'same', bias: false },
  ]);
  const doc = tfjsModelJsonFromGraph(graph);
  t.equal(layer(doc, 'dw')?.class_name, 'DepthwiseConv2D');
  t.equal(layer(doc, 'dw')?.config.depth_multiplier, 2);
  t.same(
    doc.weightsManifest[0].weights,
    [{ name: 'dw/depthwise_kernel', shape: [3, 3, 4, 2], dtype: 'float32' }],
    "Keras' depthwise kernel layout",
  );
  t.same(roundTrip(graph).nodes[0].attrs, graph.nodes[0].attrs);
});

t.test('relu6 is written as ReLU(max_value=6) and read back as relu6', async (t) => {
  const graph = spec([{ kind: 'activation', name: 'r6', function: 'relu6' }]);
  const doc = tfjsModelJsonFromGraph(graph);
  t.equal(layer(doc, 'r6')?.class_name, 'ReLU');
  t.same(roundTrip(graph).nodes[0].attrs, { function: 'relu6' });
});

t.test('a one-branch concat is its branch: no Concatenate layer, readers wired to the branch', async (t) => {
  const graph = spec([
    {
      kind: 'branches',
      name: 'm',
      branches: [{ layers: [{ kind: 'conv2d', name: 'c', filters: 2, kernel: 1 }] }],
    },
    { kind: 'globalavgpool', name: 'g' },
  ]);
  const doc = tfjsModelJsonFromGraph(graph);
  t.notOk(layer(doc, 'm'));
  t.same(layer(doc, 'g')?.inbound_nodes, [[['c', 0, 0, {}]]]);
  t.same(analyzeGraph(roundTrip(graph)).totals.params, analyzeGraph(graph).totals.params);
});

t.test('a <name>_pad that is already a layer name is refused rather than renamed', async (t) => {
  const graph = spec([
    { kind: 'zeropad', name: 'c_pad', padding: 0 },
    { kind: 'conv2d', name: 'c', filters: 2, kernel: 3, padding: 1 },
  ]);
  t.match(exportError(t, graph).message, /c_pad, which is already a layer name/);
});

t.test('the weights manifest lists what the analyzer counts, in Keras names', async (t) => {
  const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
  const doc = tfjsModelJsonFromGraph(graph);
  const manifest = doc.weightsManifest[0];
  t.same(manifest.paths, [], 'topology only: no weight shards are written');
  const ours = analyzeGraph(graph).layers.flatMap((r) =>
    r.weights.map((w) => `${r.name}/${w.name}:${w.shape.join('x')}`),
  );
  t.same(
    manifest.weights.map((w) => `${w.name}:${w.shape.join('x')}`),
    ours,
  );
  t.ok(manifest.weights.some((w) => w.name === 'conv1_bn/moving_variance'));
});
