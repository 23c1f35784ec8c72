// The Keras classes of MobileNet/EfficientNet-class models, in both directions: each is read into
// the kind that computes it (with Keras 2's and Keras 3's differing definitions of hard_sigmoid),
// written back by the exporter, and weights stored under Keras' names bind.
import t from 'tap';
import { analyzeGraph } from '../../../src/analysis/analyze.js';
import { tfjsModelJsonFromGraph } from '../../../src/interop/keras/export.js';
import { graphFromKerasConfig, graphFromTfjsModelJson } from '../../../src/interop/keras/import.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import type { ArchitectureSpec } from '../../../src/spec/types.js';
import { bindWeights } from '../../../src/weights/bind.js';

type LayerDef = [name: string, className: string, config: Record<string, unknown>, inputs: string[]];

function functional(layers: LayerDef[], extra: Record<string, unknown> = {}) {
  return {
    class_name: 'Functional',
    ...extra,
    config: {
      name: 'kinds',
      layers: [
        {
          class_name: 'InputLayer',
          config: { batch_input_shape: [null, 8, 8, 3], dtype: 'float32', name: 'in' },
          name: 'in',
          inbound_nodes: [],
        },
        ...layers.map(([name, class_name, config, inputs]) => ({
          class_name,
          config: { name, ...config },
          name,
          inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])],
        })),
      ],
      input_layers: [['in', 0, 0]],
      output_layers: [[layers[layers.length - 1][0], 0, 0]],
    },
  };
}

const attrsOf = (model: unknown) =>
  Object.fromEntries(graphFromKerasConfig(model).nodes.map((n) => [n.name, [n.kind, n.attrs]]));

t.test(
  'the classes of squeeze-and-excitation blocks and input scaling are read into their kinds',
  async (t) => {
    const nodes = attrsOf(
      functional([
        ['scale', 'Rescaling', { scale: 0.00784313725490196, offset: -1 }, ['in']],
        ['norm', 'Normalization', { axis: -1, mean: null, variance: null }, ['scale']],
        ['c', 'Conv2D', { filters: 6, kernel_size: [1, 1], padding: 'same', activation: 'swish' }, ['norm']],
        ['pool', 'GlobalAveragePooling2D', { keepdims: true }, ['c']],
        ['gate', 'Activation', { activation: 'hard_sigmoid' }, ['pool']],
        ['mul', 'Multiply', {}, ['c', 'gate']],
        ['leaky', 'LeakyReLU', { alpha: 0.2 }, ['mul']],
        ['elu', 'ELU', { alpha: 0.5 }, ['leaky']],
        ['flat', 'Reshape', { target_shape: [384] }, ['elu']],
        ['out', 'Dense', { units: 3, activation: 'gelu' }, ['flat']],
      ]),
    );
    t.same(nodes.scale, ['rescaling', { scale: [0.00784313725490196], offset: [-1] }]);
    t.same(nodes.norm, ['normalization', { epsilon: 1e-7 }], 'mean and variance as weights');
    t.same(nodes.c_activation, ['activation', { function: 'silu' }], 'swish is silu');
    t.same(nodes.pool, ['globalavgpool', { keepdims: true }]);
    t.same(
      nodes.gate,
      ['activation', { function: 'hard_sigmoid', alpha: 0.2, beta: 0.5 }],
      "Keras 2's hard_sigmoid: clip(0.2x + 0.5)",
    );
    t.same(nodes.mul, ['multiply', {}]);
    t.same(nodes.leaky, ['activation', { function: 'leaky_relu', alpha: 0.2 }]);
    t.same(nodes.elu, ['activation', { function: 'elu', alpha: 0.5 }]);
    t.same(nodes.flat, ['reshape', { shape: [384] }]);
    t.same(nodes.out, [
      'dense',
      { units: 3, bias: true, activation: { function: 'gelu', approximate: false } },
    ]);

    const keras3 = attrsOf(
      functional(
        [
          ['gate', 'Activation', { activation: 'hard_sigmoid' }, ['in']],
          ['hs', 'Activation', { activation: 'hard_silu' }, ['gate']],
        ],
        { keras_version: '3.3.3' },
      ),
    );
    t.same(
      keras3.gate,
      ['activation', { function: 'hard_sigmoid', alpha: 1 / 6, beta: 0.5 }],
      "Keras 3's hard_sigmoid: relu6(x + 3)/6",
    );
    t.same(keras3.hs, ['activation', { function: 'hard_swish' }]);
  },
);

t.test(
  'Keras weights bind by Keras names: depthwise_kernel, and Normalization mean/variance/count',
  async (t) => {
    const graph = normalizeSpec({
      input: [4, 4, 3],
      layers: [
        { kind: 'conv2d', name: 'dw', filters: 6, kernel: 3, groups: 3, padding: 'same' },
        { kind: 'normalization', name: 'n' },
      ],
    });
    const shaped = inferShapes(graph);
    const values = (n: number) => Float32Array.from({ length: n }, (_, i) => i);
    const { bound } = bindWeights(
      shaped,
      new Map([
        ['dw/depthwise_kernel', { shape: [3, 3, 3, 2], data: values(54) }],
        ['dw/bias', { shape: [6], data: values(6) }],
        ['n/mean', { shape: [6], data: values(6) }],
        ['n/variance', { shape: [6], data: values(6) }],
        ['n/count', { shape: [], data: values(1) }],
      ]),
    );
    const kernel = bound.find((b) => b.layer === 'dw' && b.weight === 'kernel')!;
    t.same(kernel.shape, [3, 3, 1, 6], "Keras' [kh, kw, C, m] is our [kh, kw, 1, C·m]");
    t.same(Array.from(kernel.data.slice(0, 6)), [0, 1, 2, 3, 4, 5], 'with the elements in the same order');
    t.equal(bound.length, 5);
  },
);

t.test('every new kind and function exports to Keras and reads back to the same figures', async (t) => {
  const spec: ArchitectureSpec = {
    name: 'kinds',
    input: [8, 8, 3],
    layers: [
      { kind: 'rescaling', name: 'scale', scale: [0.5, 1, 2], offset: -1 },
      { kind: 'normalization', name: 'norm', mean: [0, 0.5, 1], variance: [1, 2, 3] },
      { kind: 'conv2d', name: 'c', filters: 8, kernel: 3, padding: 'same' },
      { kind: 'activation', name: 'hs', function: 'hard_swish' },
      {
        kind: 'branches',
        name: 'se',
        merge: 'multiply',
        branches: [
          { name: 'se_x', layers: [] },
          {
            name: 'se_s',
            layers: [
              { kind: 'globalavgpool', name: 'se_pool', keepdims: true },
              { kind: 'conv2d', name: 'se_fc', filters: 8, kernel: 1 },
              { kind: 'activation', name: 'se_gate', function: 'hard_sigmoid' },
            ],
          },
        ],
      },
      { kind: 'activation', name: 'silu', function: 'silu' },
      { kind: 'activation', name: 'leaky', function: 'leaky_relu', alpha: 0.1 },
      { kind: 'activation', name: 'clip', function: 'clip', min: 0, max: 3 },
      { kind: 'reshape', name: 'flat', shape: [-1] },
      { kind: 'dense', name: 'out', units: 4, activation: 'elu' },
    ],
  };
  const graph = normalizeSpec(spec);
  const doc = JSON.parse(JSON.stringify(tfjsModelJsonFromGraph(graph)));
  const classes = (doc.modelTopology.config.layers as { class_name: string }[]).map((l) => l.class_name);
  for (const cls of ['Rescaling', 'Normalization', 'Multiply', 'Reshape', 'LeakyReLU', 'ELU'])
    t.ok(classes.includes(cls), `writes ${cls}`);
  const back = analyzeGraph(graphFromTfjsModelJson(doc));
  const before = analyzeGraph(graph);
  for (const k of ['params', 'macs', 'trainableParams', 'nonTrainableParams'] as const)
    t.equal(back.totals[k], before.totals[k], k);
  t.same(back.output, before.output);
  const attrs = (name: string) => graphFromTfjsModelJson(doc).nodes.find((n) => n.name === name)?.attrs;
  t.same(attrs('leaky'), { function: 'leaky_relu', alpha: 0.1 });
  t.same(attrs('clip'), { function: 'clip', min: 0, max: 3 });
  t.same(attrs('norm'), { mean: [0, 0.5, 1], variance: [1, 2, 3], epsilon: 1e-7 });
});
