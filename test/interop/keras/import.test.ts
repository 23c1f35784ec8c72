// Importing real Keras / tfjs topologies (test/fixtures/keras-configs, see its README). For each
// model: totals against closed-form figures worked out here from the architecture, shapes, the
// report of the same network written in our own spec format (must agree exactly), and tfjs-layers'
// own parameter count and shapes for the same JSON as an independent framework.
import t from 'tap';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { analyzeGraph, type AnalysisReport, type LayerRow } from '../../../src/analysis/analyze.js';
import {
  detectModelFormat,
  graphFromKerasConfig,
  graphFromTfjsModelJson,
} from '../../../src/interop/keras/import.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import type { ArchitectureSpec, NodeSpec } from '../../../src/spec/types.js';
import { backendReady } from '../../helpers/engine.js';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../fixtures/keras-configs/${name}`, import.meta.url), 'utf8'));

// --- closed-form costs (a MAC is one multiply-add; the bias is not a MAC) ---------------------
const convParams = (k: number, cin: number, cout: number, bias: boolean) =>
  k * k * cin * cout + (bias ? cout : 0);
const convMacs = (h: number, w: number, cout: number, cin: number, k: number) => h * w * cout * cin * k * k;
const denseParams = (inputs: number, units: number) => inputs * units + units;
/** Keras' "same" output size, and "valid" for a k×k window. */
const same = (n: number, s: number) => Math.ceil(n / s);
const valid = (n: number, k: number, s = 1) => Math.floor((n - k) / s) + 1;

/** A subtest's `t` (the last overload of t.test takes only the callback). */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

interface Expected {
  trainable: number;
  /** Batch-norm moving mean and variance. */
  nonTrainable: number;
  macs: number;
}

function expectTotals(t: Test, report: AnalysisReport, e: Expected) {
  t.equal(report.totals.trainableParams, e.trainable, 'trainable parameters');
  t.equal(
    report.totals.nonTrainableParams,
    e.nonTrainable,
    'non-trainable parameters (BN moving statistics)',
  );
  t.equal(report.totals.params, e.trainable + e.nonTrainable, 'total parameters');
  t.equal(report.totals.macs, e.macs, 'MACs');
  t.equal(report.totals.flops, 2 * e.macs, 'FLOPs = 2·MACs');
}

/**
 * Two reports of one network must agree on every figure. Left out: the row index and the peak
 * activation memory, which follow the execution order (Keras lists layers by depth, our spec by
 * block; both are valid orders).
 */
function sameReport(t: Test, got: AnalysisReport, want: AnalysisReport) {
  const { peakActivationBytes: _a, peakActivationLayer: _b, ...gotTotals } = got.totals;
  const { peakActivationBytes: _c, peakActivationLayer: _d, ...wantTotals } = want.totals;
  t.same(gotTotals, wantTotals, 'totals');
  t.same([got.input, got.output], [want.input, want.output], 'input and output shapes');
  const view = (r: LayerRow) => JSON.stringify({ ...r, index: undefined });
  const wantRows = new Map(want.layers.map((r) => [r.name, r]));
  t.same(got.layers.map((r) => r.name).sort(), [...wantRows.keys()].sort(), 'the same layer names');
  const differing = got.layers.filter((r) => wantRows.has(r.name) && view(r) !== view(wantRows.get(r.name)!));
  for (const r of differing)
    t.same(JSON.parse(view(r)), JSON.parse(view(wantRows.get(r.name)!)), `row ${r.name}`);
  t.equal(
    differing.length,
    0,
    'every layer row agrees (inputs, shapes, weights, params, MACs, element ops, blockPath, receptive field)',
  );
  t.same(got.blocks, want.blocks, 'residual and inception reports');
  const byConv = (rows: AnalysisReport['bottlenecks']) =>
    [...rows].sort((x, y) => x.conv.localeCompare(y.conv));
  t.same(byConv(got.bottlenecks), byConv(want.bottlenecks), 'bottleneck report');
}

const shapeOf = (report: AnalysisReport, name: string) =>
  report.layers.find((r) => r.name === name)?.outputShape;

// --- the small ResNet ----------------------------------------------------------------------------

const EPS = 1.001e-5;
const c = (name: string, filters: number, kernel: number, extra: Record<string, unknown> = {}): NodeSpec =>
  ({ kind: 'conv2d', name, filters, kernel, ...extra }) as NodeSpec;
const bn = (name: string, epsilon = EPS): NodeSpec => ({ kind: 'batchnorm', name, epsilon });
const act = (name: string, fn: 'relu' | 'softmax' = 'relu'): NodeSpec => ({
  kind: 'activation',
  name,
  function: fn,
});

const resnetSpec: ArchitectureSpec = {
  name: 'small_resnet',
  input: [32, 32, 3],
  layers: [
    c('conv1_conv', 16, 3, { strides: 2, padding: 'same' }),
    bn('conv1_bn'),
    act('conv1_relu'),
    {
      kind: 'residual',
      name: 'conv2_block1',
      addName: 'conv2_block1_add',
      body: [
        c('conv2_block1_1_conv', 16, 3, { padding: 'same', bias: false }),
        bn('conv2_block1_1_bn'),
        act('conv2_block1_1_relu'),
        c('conv2_block1_2_conv', 16, 3, { padding: 'same', bias: false }),
        bn('conv2_block1_2_bn'),
      ],
      post: [act('conv2_block1_out')],
    },
    {
      kind: 'residual',
      name: 'conv3_block1',
      addName: 'conv3_block1_add',
      body: [
        c('conv3_block1_1_conv', 32, 3, { strides: 2, padding: 'same', bias: false }),
        bn('conv3_block1_1_bn'),
        act('conv3_block1_1_relu'),
        c('conv3_block1_2_conv', 32, 3, { padding: 'same', bias: false }),
        bn('conv3_block1_2_bn'),
      ],
      shortcut: { layers: [c('conv3_block1_0_conv', 32, 1, { strides: 2 }), bn('conv3_block1_0_bn')] },
      post: [act('conv3_block1_out')],
    },
    { kind: 'globalavgpool', name: 'avg_pool' },
    { kind: 'dense', name: 'predictions', units: 10, activation: 'softmax' },
  ],
};

/** Worked out from the architecture: 32x32x3 → 16x16x16 (stem, stride 2) → 16x16x16 → 8x8x32 → 10. */
function resnetExpected(): Expected {
  const s1 = same(32, 2); // 16
  const s2 = same(s1, 2); // 8
  const trainable =
    convParams(3, 3, 16, true) +
    2 * 16 + // stem conv + BN gamma/beta
    2 * (convParams(3, 16, 16, false) + 2 * 16) + // identity block: two 3x3 convs without bias, two BNs
    convParams(1, 16, 32, true) +
    2 * 32 + // projection shortcut conv (bias) + BN
    convParams(3, 16, 32, false) +
    2 * 32 +
    convParams(3, 32, 32, false) +
    2 * 32 + // projection block body
    denseParams(32, 10);
  const nonTrainable = 2 * 16 + 2 * 2 * 16 + 3 * 2 * 32;
  const macs =
    convMacs(s1, s1, 16, 3, 3) +
    2 * convMacs(s1, s1, 16, 16, 3) +
    convMacs(s2, s2, 32, 16, 1) +
    convMacs(s2, s2, 32, 16, 3) +
    convMacs(s2, s2, 32, 32, 3) +
    32 * 10;
  return { trainable, nonTrainable, macs };
}

t.test(
  'Keras 2 ResNet-style functional model: figures, shapes, blocks and agreement with our spec',
  async (t) => {
    const graph = graphFromKerasConfig(fixture('small_resnet.keras2.json'));
    const report = analyzeGraph(graph);
    expectTotals(t, report, resnetExpected());
    t.equal(report.totals.params, 20_330, 'the worked-out figure, written once as a number for the README');
    t.same(shapeOf(report, 'conv1_relu'), [16, 16, 16]);
    t.same(shapeOf(report, 'conv2_block1_out'), [16, 16, 16]);
    t.same(shapeOf(report, 'conv3_block1_0_bn'), [8, 8, 32]);
    t.same(shapeOf(report, 'avg_pool'), [32]);
    t.same(report.output, [10]);
    t.same(
      report.blocks.residual.map((b) => [b.name, b.shortcut, b.preactivation]),
      [
        ['conv2_block1', 'identity', false],
        ['conv3_block1', 'projection', false],
      ],
      'one identity and one projection block, named after their adds',
    );
    t.equal(
      report.blocks.residual[1].shortcutParams,
      convParams(1, 16, 32, true) + 4 * 32,
      'shortcut = 1x1 conv + BN',
    );
    t.equal(graph.nodes[0].specPath, 'config.layers[1]', 'layers are located in the submitted JSON');
    sameReport(t, report, analyzeGraph(normalizeSpec(resnetSpec)));
  },
);

t.test('Keras 3 serialisation of the same ResNet gives the same graph as Keras 2', async (t) => {
  const k3 = graphFromKerasConfig(fixture('small_resnet.keras3.json'));
  const k2 = graphFromKerasConfig(fixture('small_resnet.keras2.json'));
  t.same(k3, k2, 'identical graphs: names, attributes, wiring, order, blocks, JSON paths');
  expectTotals(t, analyzeGraph(k3), resnetExpected());
});

t.test('a model.to_json() string is read like the parsed object', async (t) => {
  const text = readFileSync(
    new URL('../../fixtures/keras-configs/small_resnet.keras3.json', import.meta.url),
    'utf8',
  );
  t.same(graphFromKerasConfig(text), graphFromKerasConfig(JSON.parse(text)));
});

// --- the small Inception -------------------------------------------------------------------------

const convRelu = (name: string, filters: number, kernel: number): NodeSpec[] => [
  c(name, filters, kernel, { padding: 'same' }),
  act(`${name}_activation`),
];

const inceptionSpec: ArchitectureSpec = {
  name: 'small_inception',
  input: [32, 32, 3],
  layers: [
    ...convRelu('conv1', 32, 3),
    { kind: 'maxpool', name: 'pool1', pool: 2, strides: 2 },
    {
      kind: 'branches',
      name: 'mixed1',
      branches: [
        { layers: convRelu('mixed1_1x1', 16, 1) },
        { layers: [...convRelu('mixed1_3x3_reduce', 16, 1), ...convRelu('mixed1_3x3', 24, 3)] },
        { layers: [...convRelu('mixed1_5x5_reduce', 4, 1), ...convRelu('mixed1_5x5', 8, 5)] },
        {
          layers: [
            { kind: 'maxpool', name: 'mixed1_pool', pool: 3, strides: 1, padding: 'same' },
            ...convRelu('mixed1_pool_proj', 8, 1),
          ],
        },
      ],
    },
    { kind: 'globalavgpool', name: 'avg_pool' },
    { kind: 'dropout', name: 'dropout', rate: 0.4 },
    { kind: 'dense', name: 'predictions', units: 10, activation: 'softmax' },
  ],
};

/** 32x32x3 → conv 32x32x32 → pool 16x16x32 → module 16x16x(16+24+8+8) → 10. */
function inceptionExpected(): Expected {
  const h = valid(32, 2, 2); // 16
  const trainable =
    convParams(3, 3, 32, true) +
    convParams(1, 32, 16, true) +
    convParams(1, 32, 16, true) +
    convParams(3, 16, 24, true) +
    convParams(1, 32, 4, true) +
    convParams(5, 4, 8, true) +
    convParams(1, 32, 8, true) +
    denseParams(16 + 24 + 8 + 8, 10);
  const macs =
    convMacs(32, 32, 32, 3, 3) +
    convMacs(h, h, 16, 32, 1) +
    convMacs(h, h, 16, 32, 1) +
    convMacs(h, h, 24, 16, 3) +
    convMacs(h, h, 4, 32, 1) +
    convMacs(h, h, 8, 4, 5) +
    convMacs(h, h, 8, 32, 1) +
    56 * 10;
  return { trainable, nonTrainable: 0, macs };
}

t.test('Keras 2 Inception-style model: 4-branch module, fused ReLUs, agreement with our spec', async (t) => {
  const graph = graphFromKerasConfig(fixture('small_inception.keras2.json'));
  const report = analyzeGraph(graph);
  expectTotals(t, report, inceptionExpected());
  t.same(shapeOf(report, 'pool1'), [16, 16, 32]);
  t.same(shapeOf(report, 'mixed1'), [16, 16, 56], '16 + 24 + 8 + 8 channels');
  t.same(report.output, [10]);
  const conv1 = graph.nodes.findIndex((n) => n.name === 'conv1');
  t.same(
    graph.nodes[conv1 + 1],
    {
      name: 'conv1_activation',
      kind: 'activation',
      attrs: { function: 'relu' },
      inputs: ['conv1'],
      blockPath: [],
      specPath: 'config.layers[1].config.activation',
    },
    "a Conv2D's fused ReLU becomes <name>_activation right after it",
  );
  t.same(
    graph.nodes.find((n) => n.name === 'pool1')!.inputs,
    ['conv1_activation'],
    'readers of the conv read its activation',
  );
  const [module] = report.blocks.inception;
  t.equal(module.name, 'mixed1');
  t.same(
    module.branches.map((b) => [b.name, b.outputChannels, b.layers.length]),
    [
      ['mixed1_branch1', 16, 2],
      ['mixed1_branch2', 24, 4],
      ['mixed1_branch3', 8, 4],
      ['mixed1_branch4', 8, 3],
    ],
    'branches in concat order, with their layers',
  );
  t.same(report.bottlenecks.map((b) => [b.reduction, b.conv]).sort(), [
    ['mixed1_3x3_reduce', 'mixed1_3x3'],
    ['mixed1_5x5_reduce', 'mixed1_5x5'],
  ]);
  sameReport(t, report, analyzeGraph(normalizeSpec(inceptionSpec)));
});

t.test('tfjs converter model.json wrapping the Inception config reads as the Keras config', async (t) => {
  const doc = fixture('small_inception.tfjs-model.json');
  t.equal(detectModelFormat(doc), 'tfjs-layers-model');
  const graph = graphFromTfjsModelJson(doc);
  const keras = graphFromKerasConfig(fixture('small_inception.keras2.json'));
  t.same(
    graph.nodes.map((n) => ({ ...n, specPath: undefined })),
    keras.nodes.map((n) => ({ ...n, specPath: undefined })),
  );
  t.equal(
    graph.nodes[0].specPath,
    'modelTopology.model_config.config.layers[1]',
    'paths point into model.json',
  );
  const report = analyzeGraph(graph);
  expectTotals(t, report, inceptionExpected());
  // The converter's manifest lists exactly the weights the analyzer counts.
  const manifest = (doc.weightsManifest as { weights: { name: string; shape: number[] }[] }[]).flatMap(
    (g) => g.weights,
  );
  const ours = report.layers.flatMap((r) =>
    r.weights.map((w) => ({ name: `${r.name}/${w.name}`, shape: w.shape })),
  );
  t.same(
    ours.sort((a, b) => a.name.localeCompare(b.name)),
    manifest.map(({ name, shape }) => ({ name, shape })).sort((a, b) => a.name.localeCompare(b.name)),
  );
});

// --- the Sequential CNN ----------------------------------------------------------------------------

const mnistSpec = (name: string): ArchitectureSpec => ({
  name,
  input: [28, 28, 1],
  layers: [
    c('conv2d', 32, 3),
    act('conv2d_activation'),
    { kind: 'maxpool', name: 'max_pooling2d', pool: 2 },
    c('conv2d_1', 64, 3),
    act('conv2d_1_activation'),
    { kind: 'maxpool', name: 'max_pooling2d_1', pool: 2 },
    { kind: 'flatten', name: 'flatten' },
    { kind: 'dropout', name: 'dropout', rate: 0.5 },
    { kind: 'dense', name: 'dense', units: 10, activation: 'softmax' },
  ],
});

/** 28 → conv 26 → pool 13 → conv 11 → pool 5; 5·5·64 = 1600 features. */
function mnistExpected(): Expected {
  const a = valid(28, 3);
  const p = valid(a, 2, 2);
  const b = valid(p, 3);
  const q = valid(b, 2, 2);
  return {
    trainable: convParams(3, 1, 32, true) + convParams(3, 32, 64, true) + denseParams(q * q * 64, 10),
    nonTrainable: 0,
    macs: convMacs(a, a, 32, 1, 3) + convMacs(b, b, 64, 32, 3) + q * q * 64 * 10,
  };
}

t.test('Keras 2 Sequential CNN (the Keras MNIST example)', async (t) => {
  const graph = graphFromKerasConfig(fixture('mnist_cnn.sequential.keras2.json'));
  const report = analyzeGraph(graph);
  expectTotals(t, report, mnistExpected());
  t.equal(report.totals.params, 34_826, "Keras' published model.summary() total for this example");
  t.same(graph.input, [28, 28, 1], 'input shape from the InputLayer');
  t.same(shapeOf(report, 'max_pooling2d_1'), [5, 5, 64]);
  t.same(shapeOf(report, 'flatten'), [1600]);
  t.same(graph.nodes[0].inputs, ['input'], 'the InputLayer (conv2d_input) is the graph input');
  sameReport(t, report, analyzeGraph(normalizeSpec(mnistSpec('sequential'))));
});

t.test('tfjs-layers model.json of the same CNN (Sequential, no InputLayer)', async (t) => {
  const doc = fixture('mnist_cnn.tfjs-layers.model.json');
  t.equal(detectModelFormat(doc), 'tfjs-layers-model');
  const graph = graphFromTfjsModelJson(doc);
  t.same(graph.input, [28, 28, 1], "input shape from the first layer's batch_input_shape");
  const report = analyzeGraph(graph);
  expectTotals(t, report, mnistExpected());
  sameReport(t, report, analyzeGraph(normalizeSpec(mnistSpec('mnist_cnn'))));
});

t.test('detectModelFormat tells the formats apart', async (t) => {
  t.equal(detectModelFormat(fixture('small_resnet.keras2.json')), 'keras-config');
  t.equal(detectModelFormat(fixture('small_resnet.keras3.json')), 'keras-config');
  t.equal(
    detectModelFormat({ model_config: fixture('small_resnet.keras2.json') }),
    'tfjs-layers-model',
    'a bare converter topology',
  );
  t.equal(detectModelFormat({ format: 'layers-model' }), 'tfjs-layers-model');
  t.equal(detectModelFormat({ format: 'graph-model', modelTopology: {} }), 'tfjs-graph-model');
  t.equal(
    detectModelFormat({ input: [32, 32, 3], layers: [] }),
    'unknown',
    'our own spec is not a Keras config',
  );
  t.equal(detectModelFormat([]), 'unknown');
  t.equal(detectModelFormat(null), 'unknown');
});

// --- tfjs-layers as an independent reader of the same JSON -------------------------------------

t.test('tfjs-layers reads the Keras 2 fixtures to the same shapes and parameter counts', async (t) => {
  await backendReady();
  for (const name of [
    'small_resnet.keras2.json',
    'small_inception.keras2.json',
    'mnist_cnn.sequential.keras2.json',
  ]) {
    const json = fixture(name);
    const model = await tf.models.modelFromJSON(json as never);
    const report = analyzeGraph(graphFromKerasConfig(json));
    const rows = new Map(report.layers.map((r) => [r.name, r]));
    t.equal(model.countParams(), report.totals.params, `${name}: whole-model parameters`);
    let compared = 0;
    for (const layer of model.layers) {
      if (layer.getClassName() === 'InputLayer') continue;
      // A Conv2D with a fused activation is two rows: the conv holds the weights, the activation the output.
      const row = rows.get(`${layer.name}_activation`) ?? rows.get(layer.name);
      const weightsRow = rows.get(layer.name);
      if (!row || !weightsRow) {
        t.fail(`${name}: no row for ${layer.name}`);
        continue;
      }
      t.same(
        (layer.outputShape as number[]).slice(1),
        row.outputShape,
        `${name}: ${layer.name} output shape`,
      );
      t.equal(layer.countParams(), weightsRow.params, `${name}: ${layer.name} parameters`);
      compared++;
    }
    t.ok(compared > 5, `${name}: ${compared} layers compared`);
    model.dispose();
  }
});
