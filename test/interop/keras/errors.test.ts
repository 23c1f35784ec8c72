// What the Keras reader refuses, and how: every error is an AppError with a stable code, the
// status a client can act on, and a message and detail that name the field and the value. Plus the
// single-layer mappings (DepthwiseConv2D, ReLU(6), fused activations) checked against their formulas.
import t from 'tap';
import { analyzeGraph } from '../../../src/analysis/analyze.js';
import { AppError } from '../../../src/errors.js';
import { graphFromKerasConfig, graphFromTfjsModelJson } from '../../../src/interop/keras/import.js';

type LayerDef = [name: string, className: string, config: Record<string, unknown>, inputs: string[]];

/** A Keras 2 Functional config with one InputLayer (`input_1`) and the given layers. */
function functional(
  layers: LayerDef[],
  opts: { input?: unknown; outputs?: string[]; inputs?: string[]; extraInputs?: string[] } = {},
) {
  const inputLayer = (name: string) => ({
    class_name: 'InputLayer',
    config: { batch_input_shape: opts.input ?? [null, 16, 16, 3], dtype: 'float32', name },
    name,
    inbound_nodes: [],
  });
  return {
    class_name: 'Functional',
    config: {
      name: 'inline',
      layers: [
        inputLayer('input_1'),
        ...(opts.extraInputs ?? []).map(inputLayer),
        ...layers.map(([name, class_name, config, inputs]) => ({
          class_name,
          config: { name, ...config },
          name,
          inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])],
        })),
      ],
      input_layers: (opts.inputs ?? ['input_1']).map((n) => [n, 0, 0]),
      output_layers: (opts.outputs ?? [layers[layers.length - 1][0]]).map((n) => [n, 0, 0]),
    },
    keras_version: '2.12.0',
    backend: 'tensorflow',
  };
}

const conv = (filters: number, k: number, extra: Record<string, unknown> = {}) => ({
  filters,
  kernel_size: [k, k],
  strides: [1, 1],
  padding: 'same',
  data_format: 'channels_last',
  dilation_rate: [1, 1],
  groups: 1,
  activation: 'linear',
  use_bias: true,
  ...extra,
});

/** A subtest's `t` (the last overload of t.test takes only the callback). */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Runs fn and returns the AppError it throws (failing the test if it throws anything else). */
function appError(t: Test, fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    t.fail(`expected an AppError, got ${String(err)}`);
    throw err;
  }
  t.fail('expected an AppError, nothing was thrown');
  return new AppError(0, 'NONE', '');
}

t.test('unknown layer classes: 422 listing every class and the layers using it', async (t) => {
  const model = functional([
    ['c1', 'Conv2D', conv(8, 3), ['input_1']],
    ['ln', 'LayerNormalization', { axis: [-1], epsilon: 0.001 }, ['c1']],
    ['c3d', 'Conv3D', { filters: 4, kernel_size: [3, 3, 3] }, ['ln']],
    ['ln_2', 'LayerNormalization', { axis: [-1] }, ['c3d']],
    ['gap', 'GlobalAveragePooling2D', {}, ['ln_2']],
  ]);
  const err = appError(t, () => graphFromKerasConfig(model));
  t.equal(err.statusCode, 422);
  t.equal(err.code, 'UNSUPPORTED_LAYERS');
  t.match(err.message, /LayerNormalization \(ln, ln_2\)/);
  t.match(err.message, /Conv3D \(c3d\)/);
  t.same(err.detail.unsupported, [
    { className: 'LayerNormalization', layers: ['ln', 'ln_2'] },
    { className: 'Conv3D', layers: ['c3d'] },
  ]);
});

t.test(
  'a nested model is read as part of the model: its own problems name their path inside it',
  async (t) => {
    const model = functional([
      ['base', 'Functional', { name: 'base', layers: [], input_layers: [], output_layers: [] }, ['input_1']],
      ['gap', 'GlobalAveragePooling2D', {}, ['base']],
    ]);
    const err = appError(t, () => graphFromKerasConfig(model));
    t.equal(err.code, 'UNSUPPORTED_MODEL');
    t.equal(err.detail.field, 'config.layers[1].config.input_layers');
    t.match(err.message, /0 inputs/);
  },
);

t.test(
  'unknown classes are reported before anything else is read, even a malformed supported layer',
  async (t) => {
    const model = functional([
      ['c1', 'Conv2D', conv(8, 3, { filters: 'eight' }), ['input_1']],
      ['lambda', 'Lambda', { function: 'x * 2' }, ['c1']],
    ]);
    const err = appError(t, () => graphFromKerasConfig(model));
    t.equal(err.code, 'UNSUPPORTED_LAYERS');
    t.match(err.message, /Lambda \(lambda\)/);
  },
);

t.test('unsupported options of known classes: 422 listing every problem with its JSON path', async (t) => {
  const model = functional([
    ['c1', 'Conv2D', conv(8, 3, { data_format: 'channels_first' }), ['input_1']],
    ['a1', 'Activation', { activation: 'selu' }, ['c1']],
    ['bn', 'BatchNormalization', { axis: [1] }, ['a1']],
    ['gap', 'GlobalAveragePooling2D', { data_format: 'channels_first' }, ['bn']],
  ]);
  const err = appError(t, () => graphFromKerasConfig(model));
  t.equal(err.statusCode, 422);
  t.equal(err.code, 'UNSUPPORTED_LAYER_CONFIG');
  const fields = (err.detail.problems as { field: string }[]).map((p) => p.field);
  t.same(fields, [
    'config.layers[1].config.data_format',
    'config.layers[2].config.activation',
    'config.layers[3].config.axis',
    'config.layers[4].config.data_format',
  ]);
  t.match(err.message, /channels_first/);
  t.match(err.message, /selu/);
});

t.test('Concatenate and Softmax must work on the channel axis', async (t) => {
  const concat = (axis: number) =>
    functional([
      ['a', 'Conv2D', conv(4, 1), ['input_1']],
      ['b', 'Conv2D', conv(4, 1), ['input_1']],
      ['cat', 'Concatenate', { axis }, ['a', 'b']],
    ]);
  t.same(analyzeGraph(graphFromKerasConfig(concat(-1))).output, [16, 16, 8]);
  t.same(analyzeGraph(graphFromKerasConfig(concat(3))).output, [16, 16, 8]);
  const err = appError(t, () => graphFromKerasConfig(concat(1)));
  t.equal(err.code, 'UNSUPPORTED_LAYER_CONFIG');
  t.equal(err.detail.field, 'config.layers[3].config.axis');
  const softmax = functional([
    ['gap', 'GlobalAveragePooling2D', {}, ['input_1']],
    ['sm', 'Softmax', { axis: 1 }, ['gap']],
  ]);
  t.same(
    graphFromKerasConfig(softmax).nodes[1].attrs,
    { function: 'softmax' },
    'axis 1 is the channel axis of a vector',
  );
});

t.test('several inputs or outputs: 422 UNSUPPORTED_MODEL naming them', async (t) => {
  const twoIn = functional([['add', 'Add', {}, ['input_1', 'input_2']]], {
    inputs: ['input_1', 'input_2'],
    extraInputs: ['input_2'],
  });
  let err = appError(t, () => graphFromKerasConfig(twoIn));
  t.equal(err.statusCode, 422);
  t.equal(err.code, 'UNSUPPORTED_MODEL');
  t.match(err.message, /2 inputs \(input_1, input_2\)/);
  const twoOut = functional(
    [
      ['a', 'Conv2D', conv(4, 1), ['input_1']],
      ['b', 'Conv2D', conv(4, 1), ['input_1']],
    ],
    { outputs: ['a', 'b'] },
  );
  err = appError(t, () => graphFromKerasConfig(twoOut));
  t.equal(err.code, 'UNSUPPORTED_MODEL');
  t.match(err.message, /2 outputs \(a, b\)/);
  t.equal(err.detail.field, 'config.output_layers');
});

t.test('a shared layer (called twice) is refused rather than counted once per call', async (t) => {
  const model = functional([['c', 'Conv2D', conv(3, 3), ['input_1']]]);
  (model.config.layers[1].inbound_nodes as unknown[]).push([['c', 0, 0, {}]]);
  const err = appError(t, () => graphFromKerasConfig(model));
  t.equal(err.code, 'UNSUPPORTED_MODEL');
  t.match(err.message, /called 2 times/);
});

t.test('input shape: the batch must be None and every other size known', async (t) => {
  const one = (input: unknown) => functional([['gap', 'GlobalAveragePooling2D', {}, ['input_1']]], { input });
  let err = appError(t, () => graphFromKerasConfig(one([32, 16, 16, 3])));
  t.equal(err.statusCode, 422);
  t.equal(err.code, 'UNSUPPORTED_INPUT_SHAPE');
  t.equal(err.detail.field, 'config.layers[0].config.batch_input_shape[0]');
  err = appError(t, () => graphFromKerasConfig(one([null, null, null, 3])));
  t.equal(err.code, 'UNSUPPORTED_INPUT_SHAPE');
  t.equal(err.detail.field, 'config.layers[0].config.batch_input_shape[1]');
  t.match(err.message, /height/);
  err = appError(t, () => graphFromKerasConfig(one([null, 100])));
  t.equal(err.code, 'UNSUPPORTED_INPUT_SHAPE', 'a vector input is not an image');
  err = appError(t, () => graphFromKerasConfig(one([null, 100_000, 16, 3])));
  t.equal(err.statusCode, 413, 'the spec limits apply to imports too');
});

t.test('a Sequential model without any input shape is refused with the field to set', async (t) => {
  const err = appError(t, () =>
    graphFromKerasConfig({
      class_name: 'Sequential',
      config: { name: 's', layers: [{ class_name: 'Flatten', config: { name: 'f' } }] },
    }),
  );
  t.equal(err.code, 'UNSUPPORTED_INPUT_SHAPE');
  t.equal(err.detail.field, 'config.layers[0].config.batch_input_shape');
});

t.test('Keras before 2.2.3 wrote a Sequential config as the bare list of layers', async (t) => {
  const graph = graphFromKerasConfig({
    class_name: 'Sequential',
    config: [
      {
        class_name: 'Conv2D',
        config: {
          name: 'conv2d_1',
          batch_input_shape: [null, 8, 8, 1],
          ...conv(2, 3, { padding: 'valid', activation: 'relu' }),
        },
      },
      { class_name: 'Flatten', config: { name: 'flatten_1' } },
      { class_name: 'Dense', config: { name: 'dense_1', units: 3, activation: 'softmax', use_bias: true } },
    ],
    keras_version: '2.2.2',
  });
  t.same(
    graph.nodes.map((n) => n.name),
    ['conv2d_1', 'conv2d_1_activation', 'flatten_1', 'dense_1'],
  );
  t.equal(graph.nodes[0].specPath, 'config[0]');
  t.equal(analyzeGraph(graph).totals.params, 3 * 3 * 1 * 2 + 2 + (6 * 6 * 2 * 3 + 3));
});

t.test('malformed configs are 400 INVALID_MODEL_CONFIG naming the field', async (t) => {
  let err = appError(t, () =>
    graphFromKerasConfig(functional([['c', 'Conv2D', conv(8, 3, { filters: 'eight' }), ['input_1']]])),
  );
  t.equal(err.statusCode, 400);
  t.equal(err.code, 'INVALID_MODEL_CONFIG');
  t.equal(err.detail.field, 'config.layers[1].config.filters');
  err = appError(t, () => graphFromKerasConfig(functional([['c', 'Conv2D', conv(8, 3), ['nowhere']]])));
  t.equal(err.code, 'INVALID_MODEL_CONFIG');
  t.match(err.message, /nowhere/);
  err = appError(t, () => graphFromKerasConfig({ class_name: 'Functional' }));
  t.equal(err.detail.field, 'config');
  err = appError(t, () => graphFromKerasConfig('{"class_name": '));
  t.equal(err.code, 'INVALID_MODEL_CONFIG', 'JSON text that does not parse');
  err = appError(t, () =>
    graphFromKerasConfig(
      functional([
        ['a', 'Conv2D', conv(4, 1), ['b']],
        ['b', 'Conv2D', conv(4, 1), ['a']],
      ]),
    ),
  );
  t.equal(err.code, 'INVALID_MODEL_CONFIG');
  t.match(err.message, /cycle/);
});

t.test('subclassed models and tfjs graph models are refused with a reason', async (t) => {
  let err = appError(t, () => graphFromKerasConfig({ class_name: 'MyResNet', config: { name: 'x' } }));
  t.equal(err.statusCode, 422);
  t.equal(err.code, 'UNSUPPORTED_MODEL');
  t.match(err.message, /subclassed/);
  err = appError(t, () => graphFromTfjsModelJson({ format: 'graph-model', modelTopology: { node: [] } }));
  t.equal(err.code, 'UNSUPPORTED_MODEL');
  t.match(err.message, /layers-model/);
});

t.test('"input" is the graph input: another layer may not use the name', async (t) => {
  const err = appError(t, () =>
    graphFromKerasConfig(functional([['input', 'Conv2D', conv(4, 1), ['input_1']]])),
  );
  t.equal(err.code, 'NAME_CONFLICT');
  const named = functional([['c', 'Conv2D', conv(4, 1), ['input']]]);
  (named.config.layers as unknown[])[0] = {
    class_name: 'InputLayer',
    config: { batch_input_shape: [null, 4, 4, 1], dtype: 'float32', name: 'input' },
    name: 'input',
    inbound_nodes: [],
  };
  named.config.input_layers = [['input', 0, 0]];
  const ok = graphFromKerasConfig(named);
  t.same(ok.nodes[0].inputs, ['input'], 'an InputLayer itself named "input" is fine');
});

t.test(
  'a generated <name>_activation that is already a layer name is a conflict, not a silent rename',
  async (t) => {
    const err = appError(t, () =>
      graphFromKerasConfig(
        functional([
          ['c', 'Conv2D', conv(4, 1, { activation: 'relu' }), ['input_1']],
          ['c_activation', 'Activation', { activation: 'relu' }, ['c']],
        ]),
      ),
    );
    t.equal(err.code, 'NAME_CONFLICT');
  },
);

t.test('a fused activation on the output layer makes <name>_activation the graph output', async (t) => {
  const graph = graphFromKerasConfig(
    functional([['c', 'Conv2D', conv(4, 1, { activation: 'sigmoid' }), ['input_1']]]),
  );
  t.equal(graph.output, 'c_activation');
  t.same(
    graph.nodes.map((n) => [n.name, n.kind]),
    [
      ['c', 'conv2d'],
      ['c_activation', 'activation'],
    ],
  );
  const linear = graphFromKerasConfig(functional([['c', 'Conv2D', conv(4, 1), ['input_1']]]));
  t.same(
    linear.nodes.map((n) => n.name),
    ['c'],
    'a linear activation adds nothing',
  );
});

t.test('DepthwiseConv2D is conv2d with groups = C and filters = C·depth_multiplier', async (t) => {
  for (const m of [1, 2]) {
    const graph = graphFromKerasConfig(
      functional(
        [
          [
            'dw',
            'DepthwiseConv2D',
            {
              kernel_size: [3, 3],
              strides: [2, 2],
              padding: 'same',
              depth_multiplier: m,
              data_format: 'channels_last',
              dilation_rate: [1, 1],
              activation: 'relu6',
              use_bias: true,
            },
            ['input_1'],
          ],
        ],
        { input: [null, 16, 16, 8] },
      ),
    );
    t.same(graph.nodes[0].attrs, {
      filters: 8 * m,
      kernel: [3, 3],
      strides: [2, 2],
      padding: { mode: 'same' },
      dilation: [1, 1],
      groups: 8,
      bias: true,
    });
    const row = analyzeGraph(graph).layers[0];
    t.same(row.outputShape, [8, 8, 8 * m]);
    t.equal(row.params, 3 * 3 * 8 * m + 8 * m, "Keras' depthwise kernel kh·kw·C·m plus bias");
    t.equal(row.macs, 8 * 8 * 8 * m * 3 * 3, 'each output channel reads one input channel');
    t.same(graph.nodes[1].attrs, { function: 'relu6' });
  }
});

t.test(
  'ReLU layers: max_value 6 is relu6, another cap clips, a negative slope is leaky_relu; thresholds are refused',
  async (t) => {
    const relu = (cfg: Record<string, unknown>) => functional([['r', 'ReLU', cfg, ['input_1']]]);
    t.same(
      graphFromKerasConfig(relu({ max_value: 6.0, negative_slope: 0.0, threshold: 0.0 })).nodes[0].attrs,
      { function: 'relu6' },
    );
    t.same(
      graphFromKerasConfig(relu({ max_value: null, negative_slope: 0.0, threshold: 0.0 })).nodes[0].attrs,
      { function: 'relu' },
    );
    t.same(
      graphFromKerasConfig(relu({ max_value: null, negative_slope: 0.1, threshold: 0.0 })).nodes[0].attrs,
      { function: 'leaky_relu', alpha: 0.1 },
    );
    t.same(graphFromKerasConfig(relu({ max_value: 1, negative_slope: 0.0, threshold: 0.0 })).nodes[0].attrs, {
      function: 'clip',
      min: 0,
      max: 1,
    });
    const err = appError(t, () =>
      graphFromKerasConfig(relu({ max_value: 3, negative_slope: 0.1, threshold: 0.5 })),
    );
    t.equal(err.code, 'UNSUPPORTED_LAYER_CONFIG');
    t.same(
      (err.detail.problems as { field: string }[]).map((p) => p.field),
      ['config.layers[1].config.threshold', 'config.layers[1].config.negative_slope'],
    );
  },
);

t.test('Dense on a feature map (Keras applies it per position) is refused, not miscounted', async (t) => {
  const err = appError(t, () =>
    graphFromKerasConfig(functional([['d', 'Dense', { units: 4, activation: 'linear' }, ['input_1']]])),
  );
  t.equal(err.code, 'UNSUPPORTED_LAYER_CONFIG');
  t.equal(err.detail.field, 'config.layers[1]');
});

t.test('shape errors name the layer by its JSON path', async (t) => {
  const err = appError(t, () =>
    graphFromKerasConfig(
      functional([
        ['a', 'Conv2D', conv(4, 1), ['input_1']],
        ['b', 'Conv2D', conv(8, 1), ['input_1']],
        ['add', 'Add', {}, ['a', 'b']],
      ]),
    ),
  );
  t.equal(err.code, 'SHAPE_MISMATCH');
  t.match(err.message, /config\.layers\[3\] \(add\)/);
});

t.test('layers out of execution order are sorted, keeping the config order where free', async (t) => {
  const ordered = functional([
    ['a', 'Conv2D', conv(4, 1), ['input_1']],
    ['b', 'Conv2D', conv(4, 1), ['a']],
    ['c', 'Conv2D', conv(4, 1), ['input_1']],
    ['add', 'Add', {}, ['b', 'c']],
  ]);
  const shuffled = structuredClone(ordered);
  const [input, ...rest] = shuffled.config.layers;
  shuffled.config.layers = [input, rest[3], rest[1], rest[2], rest[0]]; // add, b, c, a
  const graph = graphFromKerasConfig(shuffled);
  t.same(
    graph.nodes.map((n) => n.name),
    ['c', 'a', 'b', 'add'],
  );
  const seen = new Set(['input']);
  for (const n of graph.nodes) {
    t.ok(
      n.inputs.every((i) => seen.has(i)),
      `${n.name} reads only earlier layers`,
    );
    seen.add(n.name);
  }
  const figures = (g: typeof graph) => {
    const { params, macs, elementOps } = analyzeGraph(g).totals;
    return { params, macs, elementOps };
  };
  t.same(figures(graph), figures(graphFromKerasConfig(ordered)), 'the same figures as the ordered config');
});

t.test('Keras 3 wiring: tensors nested in args, non-tensor kwargs ignored, bare input_layers', async (t) => {
  const tensor = (layer: string) => ({
    class_name: '__keras_tensor__',
    config: { shape: [null, 8, 8, 4], dtype: 'float32', keras_history: [layer, 0, 0] },
  });
  const layer = (
    class_name: string,
    name: string,
    config: Record<string, unknown>,
    args: unknown[],
    kwargs: Record<string, unknown> = {},
  ) => ({
    module: 'keras.layers',
    class_name,
    config: { name, ...config },
    registered_name: null,
    name,
    inbound_nodes: [{ args, kwargs }],
  });
  const graph = graphFromKerasConfig({
    module: 'keras.src.models.functional',
    class_name: 'Functional',
    config: {
      name: 'k3',
      trainable: true,
      layers: [
        {
          module: 'keras.layers',
          class_name: 'InputLayer',
          config: { batch_shape: [null, 8, 8, 4], dtype: 'float32', sparse: false, name: 'input_layer' },
          registered_name: null,
          name: 'input_layer',
          inbound_nodes: [],
        },
        layer(
          'BatchNormalization',
          'bn',
          { axis: -1, epsilon: 0.001, center: true, scale: false },
          [tensor('input_layer')],
          { mask: null },
        ),
        layer('Activation', 'act', { activation: 'relu' }, [tensor('bn')]),
        layer('Add', 'add', {}, [[tensor('input_layer'), tensor('act')]]),
      ],
      input_layers: ['input_layer', 0, 0],
      output_layers: ['add', 0, 0],
    },
    registered_name: 'Functional',
  });
  t.same(
    graph.nodes.map((n) => [n.name, n.inputs]),
    [
      ['bn', ['input']],
      ['act', ['bn']],
      ['add', ['input', 'act']],
    ],
  );
  t.same(graph.nodes[0].attrs, { epsilon: 0.001, center: true, scale: false });
  t.same(
    graph.blocks.map((b) => b.type === 'residual' && [b.name, b.shortcut, b.preactivation]),
    [['add', 'identity', true]],
    'a BN → ReLU body on the fork is pre-activation',
  );
});
