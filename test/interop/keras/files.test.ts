// Keras and tfjs files as people save them: models nested in models (any depth, Sequential or
// Functional), frozen layers, open input sizes given by the caller, configs saved as JSON text,
// and Keras 3 operations / Keras 2 TFOpLambda arithmetic in the layer list.
import t from 'tap';
import { analyzeGraph } from '../../../src/analysis/analyze.js';
import type { AppError } from '../../../src/errors.js';
import { graphFromKerasConfig } from '../../../src/interop/keras/import.js';
import { buildApp } from '../../../src/app.js';
import { testConfig } from '../../../src/config.js';

const inputLayer = (name: string, shape: unknown[] = [null, 8, 8, 3]) => ({
  class_name: 'InputLayer',
  config: { batch_input_shape: shape, name },
  name,
  inbound_nodes: [],
});
const conv = (
  name: string,
  filters: number,
  inputs: string[] | null,
  extra: Record<string, unknown> = {},
) => ({
  class_name: 'Conv2D',
  config: {
    name,
    filters,
    kernel_size: [3, 3],
    padding: 'same',
    use_bias: true,
    activation: 'relu',
    ...extra,
  },
  name,
  ...(inputs ? { inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])] } : {}),
});
const functional = (
  name: string,
  layers: unknown[],
  input: string,
  output: string,
  extra: Record<string, unknown> = {},
) => ({
  class_name: 'Functional',
  config: { name, layers, input_layers: [[input, 0, 0]], output_layers: [[output, 0, 0]], ...extra },
  name,
});

/** A backbone (Functional) inside a Sequential inside a Sequential, frozen, with a head after it. */
function transferModel(frozen: boolean) {
  const backbone = functional(
    'backbone',
    [inputLayer('bb_in'), conv('bb_c1', 4, ['bb_in']), conv('bb_c2', 4, ['bb_c1'])],
    'bb_in',
    'bb_c2',
    frozen ? { trainable: false } : {},
  );
  return {
    class_name: 'Sequential',
    config: {
      name: 'outer',
      layers: [
        inputLayer('outer_in'),
        {
          class_name: 'Sequential',
          config: {
            name: 'features',
            layers: [backbone, { class_name: 'GlobalAveragePooling2D', config: { name: 'gap' } }],
          },
        },
        { class_name: 'Dense', config: { name: 'head', units: 2, activation: 'softmax' } },
      ],
    },
  };
}

const c1 = 3 * 3 * 3 * 4 + 4;
const c2 = 3 * 3 * 4 * 4 + 4;
const head = 4 * 2 + 2;

t.test('models nested in models are flattened with their own names, frozen where marked', async (t) => {
  const graph = graphFromKerasConfig(transferModel(true));
  t.same(
    graph.nodes.map((n) => n.name),
    ['bb_c1', 'bb_c1_activation', 'bb_c2', 'bb_c2_activation', 'gap', 'head'],
  );
  t.same(graph.nodes[0].inputs, ['input'], "the backbone's InputLayer is whatever feeds the backbone");
  t.same(
    graph.nodes.find((n) => n.name === 'bb_c2')!.blockPath,
    ['features', 'backbone'],
    'the nested models enclose their layers',
  );
  const report = analyzeGraph(graph);
  t.equal(report.totals.params, c1 + c2 + head);
  t.equal(report.totals.trainableParams, head, 'the frozen backbone counts as non-trainable');
  t.equal(report.totals.nonTrainableParams, c1 + c2);
  t.equal(
    analyzeGraph(graphFromKerasConfig(transferModel(false))).totals.trainableParams,
    c1 + c2 + head,
    'unfrozen, everything trains',
  );
});

t.test('a nested Functional called inside a Functional reads its caller’s tensor', async (t) => {
  const inner = {
    ...functional('inner', [inputLayer('i_in'), conv('i_c', 4, ['i_in'])], 'i_in', 'i_c'),
    inbound_nodes: [[['stem', 0, 0, {}]]],
  };
  const model = functional(
    'outer',
    [
      inputLayer('x'),
      conv('stem', 3, ['x']),
      inner,
      {
        class_name: 'Add',
        config: { name: 'sum' },
        name: 'sum',
        inbound_nodes: [
          [
            ['inner', 0, 0, {}],
            ['inner', 0, 0, {}],
          ],
        ],
      },
    ],
    'x',
    'sum',
  );
  const graph = graphFromKerasConfig(model);
  t.same(graph.nodes.find((n) => n.name === 'i_c')!.inputs, ['stem_activation']);
  t.same(
    graph.nodes.find((n) => n.name === 'sum')!.inputs,
    ['i_c_activation', 'i_c_activation'],
    "the nested model's name stands for its output",
  );
});

t.test('unsupported classes are listed at every depth, and repeated names are refused', async (t) => {
  const model = transferModel(false);
  const features = model.config.layers[1] as {
    config: { layers: { class_name: string; config: Record<string, unknown> }[] };
  };
  const backbone = features.config.layers[0] as unknown as { config: { layers: Record<string, unknown>[] } };
  backbone.config.layers.push({
    class_name: 'LayerNormalization',
    config: { name: 'ln' },
    name: 'ln',
    inbound_nodes: [[['bb_c2', 0, 0, {}]]],
  });
  (backbone.config as Record<string, unknown>).output_layers = [['ln', 0, 0]];
  model.config.layers.push({ class_name: 'PReLU', config: { name: 'prelu' } } as never);
  const err = t.throws(() => graphFromKerasConfig(model)) as AppError;
  t.equal(err.code, 'UNSUPPORTED_LAYERS');
  t.same(
    (err.detail.unsupported as { className: string }[]).map((u) => u.className),
    ['LayerNormalization', 'PReLU'],
    'the nested and the outer class',
  );

  const clash = transferModel(false);
  clash.config.layers[2] = {
    class_name: 'Dense',
    config: { name: 'bb_c1', units: 2, activation: 'softmax' },
  };
  t.throws(() => graphFromKerasConfig(clash), { code: 'NAME_CONFLICT', message: /bb_c1/ });
});

t.test('open input sizes: refused without a size, analysed at the size given', async (t) => {
  const model = functional(
    'open',
    [inputLayer('x', [null, null, null, 3]), conv('c', 4, ['x'], { strides: [2, 2] })],
    'x',
    'c',
  );
  t.throws(() => graphFromKerasConfig(model), {
    code: 'UNSUPPORTED_INPUT_SHAPE',
    message: /"input": \[height, width, channels\]/,
  });
  const report = analyzeGraph(graphFromKerasConfig(model, { input: [32, 20, 3] }));
  t.same(report.layers[0].outputShape, [16, 10, 4]);
  t.equal(report.layers[0].macs, 16 * 10 * 4 * 3 * 9);
});

t.test('Keras 3 operations and Keras 2 TFOpLambda arithmetic with a constant are rescaling', async (t) => {
  const op = (name: string, className: string, args: unknown[]) => ({
    module: 'keras.src.ops.numpy',
    class_name: className,
    config: { name },
    name,
    inbound_nodes: [{ args, kwargs: {} }],
  });
  const tensor = (layer: string) => ({
    class_name: '__keras_tensor__',
    config: { shape: [null, 8, 8, 4], dtype: 'float32', keras_history: [layer, 0, 0] },
  });
  const keras3 = {
    module: 'keras',
    class_name: 'Functional',
    registered_name: null,
    config: {
      name: 'ops',
      layers: [
        {
          module: 'keras.layers',
          class_name: 'InputLayer',
          config: { batch_shape: [null, 8, 8, 4], name: 'x' },
          name: 'x',
          inbound_nodes: [],
        },
        op('plus3', 'Add', [tensor('x'), 3.0]),
        op('times', 'Multiply', [tensor('plus3'), 0.5]),
        op('minus', 'Subtract', [1.0, tensor('times')]),
        op('div', 'TrueDivide', [tensor('minus'), 4.0]),
        op('gate', 'Multiply', [tensor('div'), tensor('x')]),
      ],
      input_layers: [['x', 0, 0]],
      output_layers: [['gate', 0, 0]],
    },
  };
  const attrs = Object.fromEntries(
    graphFromKerasConfig(keras3).nodes.map((n) => [n.name, [n.kind, n.attrs]]),
  );
  t.same(attrs.plus3, ['rescaling', { scale: [1], offset: [3] }]);
  t.same(attrs.times, ['rescaling', { scale: [0.5], offset: [0] }]);
  t.same(attrs.minus, ['rescaling', { scale: [-1], offset: [1] }], '1 − x');
  t.same(attrs.div, ['rescaling', { scale: [0.25], offset: [0] }]);
  t.same(attrs.gate, ['multiply', {}], 'two tensors: an element-wise product');

  const lambda = functional(
    'tf2',
    [
      inputLayer('x'),
      {
        class_name: 'TFOpLambda',
        config: { name: 'tf.__operators__.add', function: '__operators__.add' },
        name: 'tf.__operators__.add',
        inbound_nodes: [[['x', 0, 0, { y: 3.0, name: null }]]],
      },
      {
        class_name: 'TFOpLambda',
        config: { name: 'tf.math.multiply', function: 'math.multiply' },
        name: 'tf.math.multiply',
        inbound_nodes: [[['tf.__operators__.add', 0, 0, { y: 0.16666666666666666, name: null }]]],
      },
    ],
    'x',
    'tf.math.multiply',
  );
  const nodes = graphFromKerasConfig(lambda).nodes;
  t.same(
    nodes.map((n) => [n.kind, n.attrs]),
    [
      ['rescaling', { scale: [1], offset: [3] }],
      ['rescaling', { scale: [0.16666666666666666], offset: [0] }],
    ],
  );

  const unsupported = functional(
    'bad',
    [
      inputLayer('x'),
      {
        class_name: 'TFOpLambda',
        config: { name: 'tf.math.sqrt', function: 'math.sqrt' },
        name: 'tf.math.sqrt',
        inbound_nodes: [[['x', 0, 0, {}]]],
      },
    ],
    'x',
    'tf.math.sqrt',
  );
  t.throws(() => graphFromKerasConfig(unsupported), {
    code: 'UNSUPPORTED_LAYERS',
    message: /TFOpLambda\(math\.sqrt\)/,
  });
});

t.test('over HTTP: a config saved as JSON text, and an input size beside the model', async (t) => {
  const app = await buildApp(testConfig());
  t.teardown(() => app.close());
  const model = transferModel(true);
  const asText = await app.inject({
    method: 'POST',
    url: '/analyze',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(JSON.stringify(model)),
  });
  t.equal(asText.statusCode, 200, asText.body.slice(0, 200));
  t.equal(asText.json().totals.trainableParams, head);
  const notJson = await app.inject({
    method: 'POST',
    url: '/analyze',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify('{not json'),
  });
  t.equal(notJson.statusCode, 400);
  t.equal(notJson.json().code, 'INVALID_MODEL_CONFIG');
  const open = functional('open', [inputLayer('x', [null, null, null, 3]), conv('c', 4, ['x'])], 'x', 'c');
  const refused = await app.inject({ method: 'POST', url: '/analyze', payload: open });
  t.equal(refused.statusCode, 422);
  t.match(refused.json().message, /"input": \[height, width, channels\]/);
  const sized = await app.inject({
    method: 'POST',
    url: '/analyze',
    payload: { ...open, input: [16, 16, 3] },
  });
  t.equal(sized.statusCode, 200);
  t.same(sized.json().input, [16, 16, 3]);
  const badSize = await app.inject({
    method: 'POST',
    url: '/analyze',
    payload: { ...open, input: [16, 0, 3] },
  });
  t.equal(badSize.statusCode, 400);
  t.match(badSize.json().message, /input/);
});

t.test('names are scoped by model: two nested models may both call their input input_1', async (t) => {
  const a = functional('a', [inputLayer('input_1'), conv('a_c', 4, ['input_1'])], 'input_1', 'a_c');
  const b = functional(
    'b',
    [inputLayer('input_1', [null, 8, 8, 4]), conv('b_c', 4, ['input_1'])],
    'input_1',
    'b_c',
  );
  const graph = graphFromKerasConfig({
    class_name: 'Sequential',
    config: { name: 's', layers: [inputLayer('input_1'), a, b] },
  });
  t.same(
    graph.nodes.map((n) => [n.name, n.inputs]),
    [
      ['a_c', ['input']],
      ['a_c_activation', ['a_c']],
      ['b_c', ['a_c_activation']],
      ['b_c_activation', ['b_c']],
    ],
  );
});
