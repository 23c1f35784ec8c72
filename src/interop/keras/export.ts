/**
 * Graph → a TensorFlow.js layers-model `model.json` whose topology is a Keras 2 (tf.keras 2.x)
 * Functional config with our layer names, so the model can be loaded by tfjs (`tf.models.modelFromJSON`,
 * `tf.loadLayersModel`) and by Keras, and read back by graphFromTfjsModelJson. One table entry per
 * layer kind writes its Keras layers.
 *
 * What Keras has no layer for is rewritten only where the result computes the same function:
 * - explicit padding on a conv → ZeroPadding2D `<name>_pad`, then the conv with "valid";
 * - explicit padding on a pool → "same" when it equals TensorFlow's same padding for that input
 *   (TF pools ignore padded cells, as our max pool and count-excluding average pool do);
 *   else ZeroPadding2D `<name>_pad` + "valid" pool for an average pool that counts the padding, or
 *   for a max pool whose input cannot be negative (the kinds' nonNegative trait), where a zero pad
 *   never wins the max;
 * - ceil mode → dropped when it gives the same output size as floor mode (the windows are the same);
 *   for a max pool over a tensor that cannot be negative, zeros padded under the overhang;
 * - a one-input merge → no layer (it is its input);
 * - conv2d with groups = input channels → DepthwiseConv2D (depth_multiplier = filters / channels);
 *   other groups > 1 → Conv2D `groups` (Keras ≥ 2.3; tfjs-layers ignores it);
 * - a scaled add x + s·y → Rescaling `<name>_scale` (y·s) then Add;
 * - hard_sigmoid with PyTorch's slope 1/6 → Rescaling `<name>_scale` then ReLU(max_value=1)
 *   `<name>` (clip(x/6 + 0.5, 0, 1)); hard_swish → that, named `<name>_gate`, then Multiply `<name>`;
 * - a dense layer's activation that Keras 2 cannot name → Dense (linear) `<name>_linear`, then the
 *   activation's layers under the dense layer's name;
 * - global pooling with keepdims → the pool `<name>_pool`, then Reshape [1, 1, C] `<name>` (tfjs-layers
 *   has no keepdims);
 * - clip(0, m) → ReLU(max_value=m).
 * Anything else is refused with a 422 NOT_EXPRESSIBLE_IN_KERAS naming every layer: other ceil-mode
 * pools that change the output size, padded pools of other kinds, dilated convs with strides > 1 (Keras
 * refuses them), gelu's tanh approximation.
 *
 * The weightsManifest lists the weights a shard set for this topology must hold (names and shapes,
 * Keras order); tfjsModelJsonFromGraph leaves its paths empty (the architecture only), and
 * tfjsArtifacts writes the shards too.
 */
import { outputLength, resolvePads, type Pads } from '../../spec/geometry.js';
import { inferShapes } from '../../spec/shapes.js';
import { traitsOf } from '../../spec/kinds/index.js';
import { AppError } from '../../errors.js';
import {
  INPUT_NAME,
  type Activation,
  type ActivationFn,
  type BoundWeight,
  type ExplicitPadding,
  type Graph,
  type GraphNodeOf,
  type LeafKind,
  type TensorShape,
  type WeightSpec,
} from '../../spec/types.js';

/** The config dialect written: tf.keras 2.15's (the last Keras 2); Keras 3 reads it as a legacy config. */
const KERAS_DIALECT = '2.15.0';

type Json = Record<string, unknown>;

export interface TfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: { class_name: 'Functional'; config: Json; keras_version: string; backend: string };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
}

interface Refusal {
  layer: string;
  specPath: string;
  why: string;
}

const base = (name: string) => ({ name, trainable: true, dtype: 'float32' });
const initializer = (class_name: string, config: Json = {}) => ({ class_name, config });
const glorot = () => initializer('GlorotUniform', { seed: null });
const noRegularisers = (...keys: string[]) => Object.fromEntries(keys.map((k) => [k, null]));

/** What one kind's writer may use. */
interface WriteContext<K extends LeafKind> {
  node: GraphNodeOf<K>;
  inShape: TensorShape;
  /** The exported names of the node's inputs. */
  inputs: string[];
  /** Appends a Keras layer reading `inputs`; returns its name. */
  emit(className: string, name: string, config: Json, inputs: string[]): string;
  /** A helper layer's name `<layer><suffix>`, or a refusal when that name is taken. */
  helperName(suffix: string): string | undefined;
  /** A ZeroPadding2D `<name>_pad` in front of the layer; returns what the layer should read. */
  padFirst(input: string, p: Pads): string;
  refuse(why: string): void;
  /** The node has no layer of its own: readers read `to`. */
  alias(to: string): void;
  /** Whether a value can never be negative. */
  nonNegative(name: string): boolean;
  /** Replaces the node's weight names and shapes in the manifest (Keras stores them differently). */
  weightLayout(weights: { name: string; shape: number[] }[]): void;
}
type Writer<K extends LeafKind> = (cx: WriteContext<K>) => void;

const samePads = (a: Pads, b: Pads) =>
  a.top === b.top && a.bottom === b.bottom && a.left === b.left && a.right === b.right;
const explicitTotal = (p: ExplicitPadding) => p.top + p.bottom + p.left + p.right;

type ActivationWriter<F extends ActivationFn> = (
  cx: WriteContext<LeafKind>,
  a: Extract<Activation, { function: F }>,
  input: string,
  name: string,
) => void;

/** An Activation layer, for functions Keras 2 and tfjs know by `keras` name. */
const named =
  <F extends ActivationFn>(keras: string): ActivationWriter<F> =>
  (cx, _a, input, name) =>
    void cx.emit('Activation', name, { activation: keras }, [input]);

/** clip(slope·x + offset, 0, 1) as Rescaling `<out>_scale` then ReLU(max_value=1) `<out>`. */
function hardSigmoidLayers(
  cx: WriteContext<LeafKind>,
  input: string,
  slope: number,
  offset: number,
  out: string,
): void {
  const scaleName = cx.helperName(out === cx.node.name ? '_scale' : '_gate_scale');
  if (!scaleName) return;
  const scaled = cx.emit('Rescaling', scaleName, { scale: slope, offset }, [input]);
  cx.emit('ReLU', out, { max_value: 1, negative_slope: 0, threshold: 0 }, [scaled]);
}

/** One entry per activation function: the Keras 2 layers that compute it, or a refusal. */
const KERAS_ACTIVATIONS: { [F in ActivationFn]: ActivationWriter<F> } = {
  relu: named('relu'),
  sigmoid: named('sigmoid'),
  tanh: named('tanh'),
  softmax: named('softmax'),
  linear: named('linear'),
  silu: named('swish'),
  // relu6 is not a Keras 2 activation name; ReLU(max_value=6) is, in Keras and tfjs alike.
  relu6: (cx, _a, input, name) =>
    void cx.emit('ReLU', name, { max_value: 6, negative_slope: 0, threshold: 0 }, [input]),
  leaky_relu: (cx, a, input, name) => void cx.emit('LeakyReLU', name, { alpha: a.alpha }, [input]),
  elu: (cx, a, input, name) => void cx.emit('ELU', name, { alpha: a.alpha }, [input]),
  // Keras 2's own hard_sigmoid is clip(0.2x + 0.5, 0, 1); any other slope is written out.
  hard_sigmoid: (cx, a, input, name) =>
    a.alpha === 0.2 && a.beta === 0.5
      ? named('hard_sigmoid')(cx, a, input, name)
      : hardSigmoidLayers(cx, input, a.alpha, a.beta, name),
  hard_swish(cx, _a, input, name) {
    const gate = cx.helperName('_gate');
    if (!gate) return;
    hardSigmoidLayers(cx, input, 1 / 6, 0.5, gate);
    cx.emit('Multiply', name, {}, [input, gate]);
  },
  gelu: (cx, a, input, name) =>
    a.approximate
      ? cx.refuse('gelu with the tanh approximation has no Keras 2 activation name')
      : named('gelu')(cx, a, input, name),
  clip: (cx, a, input, name) =>
    a.min === 0
      ? void cx.emit('ReLU', name, { max_value: a.max, negative_slope: 0, threshold: 0 }, [input])
      : cx.refuse(`clip to [${a.min}, ${a.max}]: Keras' ReLU clips from 0 only`),
};

/** Writes an activation as Keras layers ending in one named `name`. */
function writeActivation(cx: WriteContext<LeafKind>, a: Activation, input: string, name: string): void {
  (KERAS_ACTIVATIONS[a.function] as ActivationWriter<ActivationFn>)(cx, a as never, input, name);
}

/** The name a Dense layer can carry for its activation, where Keras 2 has one. */
function denseActivationName(a: Activation): string | undefined {
  if (
    a.function === 'relu' ||
    a.function === 'sigmoid' ||
    a.function === 'tanh' ||
    a.function === 'softmax' ||
    a.function === 'linear'
  )
    return a.function;
  if (a.function === 'silu') return 'swish';
  return undefined;
}

function writePool(cx: WriteContext<'maxpool' | 'avgpool'>): void {
  const { node, inShape } = cx;
  const a = node.attrs;
  const hw: [number, number] = [inShape[0], inShape[1]];
  const pads = resolvePads(a.padding, hw, a.pool, a.strides);
  const maxOverNonNegative = node.kind === 'maxpool' && cx.nonNegative(node.inputs[0]);
  let extra = { bottom: 0, right: 0 };
  if (a.ceilMode) {
    const floor = [0, 1].map((k) =>
      outputLength(
        hw[k],
        a.pool[k],
        a.strides[k],
        1,
        k ? pads.left : pads.top,
        k ? pads.right : pads.bottom,
        false,
      ),
    );
    const ceil = [0, 1].map((k) =>
      outputLength(
        hw[k],
        a.pool[k],
        a.strides[k],
        1,
        k ? pads.left : pads.top,
        k ? pads.right : pads.bottom,
        true,
      ),
    );
    if (floor[0] !== ceil[0] || floor[1] !== ceil[1]) {
      if (!maxOverNonNegative) {
        cx.refuse(
          `ceil mode gives ${ceil.join('x')} where Keras pooling gives ${floor.join('x')}${node.kind === 'maxpool' ? ' (over a tensor that may be negative)' : ''}`,
        );
        return;
      }
      // Every ceil-mode window starts on a real cell, so zeros padded under the overhang never win the max.
      extra = {
        bottom: Math.max((ceil[0] - 1) * a.strides[0] + a.pool[0] - (hw[0] + pads.top + pads.bottom), 0),
        right: Math.max((ceil[1] - 1) * a.strides[1] + a.pool[1] - (hw[1] + pads.left + pads.right), 0),
      };
    }
  }
  let input = cx.inputs[0];
  let padding: 'same' | 'valid' = a.padding.mode === 'same' ? 'same' : 'valid';
  const explicit = a.padding.mode === 'explicit' && explicitTotal(a.padding) > 0;
  const overhang = extra.bottom + extra.right > 0;
  if (explicit || overhang) {
    const excludesPadding = node.kind === 'maxpool' || !a.countIncludePad;
    if (
      !overhang &&
      excludesPadding &&
      samePads(pads, resolvePads({ mode: 'same' }, hw, a.pool, a.strides))
    ) {
      padding = 'same';
    } else if (maxOverNonNegative || (node.kind === 'avgpool' && a.countIncludePad && !overhang)) {
      input = cx.padFirst(input, {
        ...pads,
        bottom: pads.bottom + extra.bottom,
        right: pads.right + extra.right,
      });
    } else {
      cx.refuse(
        node.kind === 'maxpool'
          ? `explicit padding ${JSON.stringify(pads)} on a max pool over a tensor that may be negative (a zero pad could win the max)`
          : `explicit padding ${JSON.stringify(pads)} on an average pool that excludes padding from the count`,
      );
      return;
    }
  }
  const cls = node.kind === 'maxpool' ? 'MaxPooling2D' : 'AveragePooling2D';
  cx.emit(cls, node.name, { pool_size: a.pool, padding, strides: a.strides, data_format: 'channels_last' }, [
    input,
  ]);
}

/** keepdims as a pool `<name>_pool` then Reshape to [1, 1, C] `<name>`: tfjs-layers ignores Keras' keepdims. */
function writeGlobalPool(cx: WriteContext<'globalavgpool' | 'globalmaxpool'>, className: string): void {
  const config = { data_format: 'channels_last', keepdims: false };
  if (!cx.node.attrs.keepdims) return void cx.emit(className, cx.node.name, config, cx.inputs.slice(0, 1));
  const pooled = cx.helperName('_pool');
  if (!pooled) return;
  cx.emit(className, pooled, config, cx.inputs.slice(0, 1));
  cx.emit('Reshape', cx.node.name, { target_shape: [1, 1, cx.inShape[2]] }, [pooled]);
}

/** A per-channel list, or its one value. */
const oneOrList = (values: number[]) => (values.length === 1 ? values[0] : values);

const KERAS_EXPORT: { [K in LeafKind]: Writer<K> } = {
  conv2d(cx) {
    const { node, inShape } = cx;
    const a = node.attrs;
    if ((a.dilation[0] > 1 || a.dilation[1] > 1) && (a.strides[0] > 1 || a.strides[1] > 1)) {
      cx.refuse(
        `dilation ${a.dilation.join('x')} with strides ${a.strides.join('x')} (Keras refuses strides > 1 with dilation_rate > 1)`,
      );
      return;
    }
    // Explicit padding (zero or not) leaves the conv itself "valid".
    const padding = a.padding.mode === 'same' ? 'same' : 'valid';
    const input =
      a.padding.mode === 'explicit' && explicitTotal(a.padding) > 0
        ? cx.padFirst(cx.inputs[0], a.padding)
        : cx.inputs[0];
    const common = {
      kernel_size: a.kernel,
      strides: a.strides,
      padding,
      data_format: 'channels_last',
      dilation_rate: a.dilation,
      activation: 'linear',
      use_bias: a.bias,
      bias_initializer: initializer('Zeros'),
      ...noRegularisers('bias_regularizer', 'activity_regularizer', 'bias_constraint'),
    };
    const cin = inShape[2];
    if (a.groups > 1 && a.groups === cin) {
      const m = a.filters / cin;
      cx.emit(
        'DepthwiseConv2D',
        node.name,
        {
          ...common,
          depth_multiplier: m,
          depthwise_initializer: glorot(),
          ...noRegularisers('depthwise_regularizer', 'depthwise_constraint'),
        },
        [input],
      );
      cx.weightLayout([
        { name: 'depthwise_kernel', shape: [a.kernel[0], a.kernel[1], cin, m] },
        ...(a.bias ? [{ name: 'bias', shape: [a.filters] }] : []),
      ]);
    } else {
      cx.emit(
        'Conv2D',
        node.name,
        {
          filters: a.filters,
          ...common,
          groups: a.groups,
          kernel_initializer: glorot(),
          ...noRegularisers('kernel_regularizer', 'kernel_constraint'),
        },
        [input],
      );
    }
  },
  batchnorm(cx) {
    const a = cx.node.attrs;
    cx.emit(
      'BatchNormalization',
      cx.node.name,
      {
        axis: -1,
        momentum: 0.99,
        epsilon: a.epsilon,
        center: a.center,
        scale: a.scale,
        beta_initializer: initializer('Zeros'),
        gamma_initializer: initializer('Ones'),
        moving_mean_initializer: initializer('Zeros'),
        moving_variance_initializer: initializer('Ones'),
        ...noRegularisers('beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint'),
      },
      cx.inputs.slice(0, 1),
    );
  },
  activation: (cx) =>
    writeActivation(cx as WriteContext<LeafKind>, cx.node.attrs, cx.inputs[0], cx.node.name),
  zeropad(cx) {
    const p = cx.node.attrs.padding;
    cx.emit(
      'ZeroPadding2D',
      cx.node.name,
      {
        padding: [
          [p.top, p.bottom],
          [p.left, p.right],
        ],
        data_format: 'channels_last',
      },
      cx.inputs.slice(0, 1),
    );
  },
  maxpool: writePool,
  avgpool: writePool,
  globalavgpool: (cx) => writeGlobalPool(cx, 'GlobalAveragePooling2D'),
  globalmaxpool: (cx) => writeGlobalPool(cx, 'GlobalMaxPooling2D'),
  flatten: (cx) =>
    void cx.emit('Flatten', cx.node.name, { data_format: 'channels_last' }, cx.inputs.slice(0, 1)),
  dense(cx) {
    const a = cx.node.attrs;
    const activationName = denseActivationName(a.activation);
    const config = {
      units: a.units,
      use_bias: a.bias,
      kernel_initializer: glorot(),
      bias_initializer: initializer('Zeros'),
      ...noRegularisers(
        'kernel_regularizer',
        'bias_regularizer',
        'activity_regularizer',
        'kernel_constraint',
        'bias_constraint',
      ),
    };
    if (activationName) {
      cx.emit('Dense', cx.node.name, { ...config, activation: activationName }, cx.inputs.slice(0, 1));
      return;
    }
    const linearName = cx.helperName('_linear');
    if (!linearName) return;
    cx.emit('Dense', linearName, { ...config, activation: 'linear' }, cx.inputs.slice(0, 1));
    cx.weightLayout(
      [
        { name: 'kernel', shape: [cx.inShape[0], a.units] },
        ...(a.bias ? [{ name: 'bias', shape: [a.units] }] : []),
      ].map((w) => ({ ...w, layer: linearName })),
    );
    writeActivation(cx as WriteContext<LeafKind>, a.activation, linearName, cx.node.name);
  },
  dropout: (cx) =>
    void cx.emit(
      'Dropout',
      cx.node.name,
      { rate: cx.node.attrs.rate, noise_shape: null, seed: null },
      cx.inputs.slice(0, 1),
    ),
  add(cx) {
    if (cx.inputs.length === 1) return cx.alias(cx.inputs[0]);
    const terms = [...cx.inputs];
    if (cx.node.attrs.scale !== 1) {
      const scaleName = cx.helperName('_scale');
      if (!scaleName) return;
      terms[1] = cx.emit('Rescaling', scaleName, { scale: cx.node.attrs.scale, offset: 0 }, [terms[1]]);
    }
    cx.emit('Add', cx.node.name, {}, terms);
  },
  concat: (cx) =>
    cx.inputs.length === 1
      ? cx.alias(cx.inputs[0])
      : void cx.emit('Concatenate', cx.node.name, { axis: -1 }, cx.inputs),
  multiply: (cx) =>
    cx.inputs.length === 1 ? cx.alias(cx.inputs[0]) : void cx.emit('Multiply', cx.node.name, {}, cx.inputs),
  reshape: (cx) =>
    void cx.emit('Reshape', cx.node.name, { target_shape: cx.node.attrs.shape }, cx.inputs.slice(0, 1)),
  rescaling: (cx) =>
    void cx.emit(
      'Rescaling',
      cx.node.name,
      { scale: oneOrList(cx.node.attrs.scale), offset: oneOrList(cx.node.attrs.offset) },
      cx.inputs.slice(0, 1),
    ),
  normalization(cx) {
    const a = cx.node.attrs;
    cx.emit(
      'Normalization',
      cx.node.name,
      { axis: -1, mean: a.mean ?? null, variance: a.variance ?? null, invert: false },
      cx.inputs.slice(0, 1),
    );
  },
};

export function tfjsModelJsonFromGraph(graph: Graph): TfjsModelJson {
  return exportTopology(graph).doc;
}

/** Shards of at most this many bytes, as tensorflowjs_converter writes them. */
const SHARD_BYTES = 4 * 1024 * 1024;

/**
 * The topology and its weights as a TensorFlow.js layers-model folder: model.json (the manifest
 * naming `group1-shard<i>of<n>.bin`) and the shards (float32 little-endian, in manifest order), as
 * `tf.loadLayersModel` and tensorflowjs_converter read them. `bound` are our weights (bindWeights).
 */
export function tfjsArtifacts(
  graph: Graph,
  bound: BoundWeight[],
): { modelJson: TfjsModelJson; shards: { path: string; data: Uint8Array }[] } {
  const { doc, sources } = exportTopology(graph);
  const byKey = new Map(bound.map((w) => [`${w.layer}/${w.weight}`, w]));
  const entries = doc.weightsManifest[0].weights;
  const total = entries.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  const all = new Uint8Array(total);
  const view = new DataView(all.buffer);
  let offset = 0;
  entries.forEach((entry, i) => {
    const w = byKey.get(`${sources[i].layer}/${sources[i].weight}`);
    if (!w) throw new Error(`no bound weight ${sources[i].layer}/${sources[i].weight} for ${entry.name}`);
    for (const v of w.data) {
      view.setFloat32(offset, v, true);
      offset += 4;
    }
  });
  const count = Math.max(1, Math.ceil(total / SHARD_BYTES));
  const shards = Array.from({ length: count }, (_, i) => ({
    path: `group1-shard${i + 1}of${count}.bin`,
    data: all.subarray(i * SHARD_BYTES, Math.min(total, (i + 1) * SHARD_BYTES)),
  }));
  return {
    modelJson: { ...doc, weightsManifest: [{ paths: shards.map((s) => s.path), weights: entries }] },
    shards,
  };
}

function exportTopology(graph: Graph): { doc: TfjsModelJson; sources: { layer: string; weight: string }[] } {
  const shaped = inferShapes(graph);
  const sources: { layer: string; weight: string }[] = [];
  const nonNegative = new Set<string>();
  const taken = new Set<string>([INPUT_NAME, ...graph.nodes.map((n) => n.name)]);
  const refusals: Refusal[] = [];
  /** Our node name → the exported layer holding its output (differs for one-input merges). */
  const alias = new Map<string, string>([[INPUT_NAME, INPUT_NAME]]);
  const src = (name: string) => alias.get(name) ?? name;
  const weights: TfjsModelJson['weightsManifest'][0]['weights'] = [];

  const layers: Json[] = [
    {
      class_name: 'InputLayer',
      config: {
        batch_input_shape: [null, ...graph.input],
        dtype: 'float32',
        sparse: false,
        ragged: false,
        name: INPUT_NAME,
      },
      name: INPUT_NAME,
      inbound_nodes: [],
    },
  ];
  const emit = (class_name: string, name: string, config: Json, inputs: string[]) => {
    layers.push({
      class_name,
      config: { ...base(name), ...config },
      name,
      inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])],
    });
    return name;
  };

  for (const { node, inputShapes, weights: ws } of shaped.nodes) {
    const traits = traitsOf(node.kind);
    if (
      (traits.nonNegative as (a: unknown, i: boolean[]) => boolean)(
        node.attrs,
        node.inputs.map((i) => nonNegative.has(i)),
      )
    )
      nonNegative.add(node.name);
    let layout: { name: string; shape: number[]; layer?: string }[] = ws.map((w: WeightSpec) => ({
      name: w.name,
      shape: w.shape,
    }));
    const refuse = (why: string) => refusals.push({ layer: node.name, specPath: node.specPath, why });
    const helperName = (suffix: string) => {
      const name = `${node.name}${suffix}`;
      if (taken.has(name)) {
        refuse(`needs a helper layer named ${name}, which is already a layer name`);
        return undefined;
      }
      taken.add(name);
      return name;
    };
    const cx: WriteContext<LeafKind> = {
      node,
      inShape: inputShapes[0],
      inputs: node.inputs.map(src),
      emit,
      helperName,
      padFirst(input, p) {
        const padName = helperName('_pad');
        if (!padName) return input;
        return emit(
          'ZeroPadding2D',
          padName,
          {
            padding: [
              [p.top, p.bottom],
              [p.left, p.right],
            ],
            data_format: 'channels_last',
          },
          [input],
        );
      },
      refuse,
      alias: (to) => void alias.set(node.name, to),
      nonNegative: (name) => nonNegative.has(name),
      weightLayout: (w) => {
        layout = w;
      },
    };
    (KERAS_EXPORT[node.kind] as Writer<LeafKind>)(cx);
    weights.push(
      ...layout.map((w) => ({
        name: `${w.layer ?? node.name}/${w.name}`,
        shape: w.shape,
        dtype: 'float32' as const,
      })),
    );
    // Every layout lists the node's weights in our order (kernel, bias; gamma, beta, …), renamed or reshaped only.
    sources.push(...layout.map((_, i) => ({ layer: node.name, weight: ws[i].name })));
  }

  if (refusals.length) {
    throw new AppError(
      422,
      'NOT_EXPRESSIBLE_IN_KERAS',
      `cannot be written as a Keras/tfjs layers model: ${refusals.map((r) => `${r.specPath} (${r.layer}): ${r.why}`).join('; ')}`,
      {
        field: refusals[0].specPath,
        received: refusals.map((r) => r.layer),
        expected: 'layers Keras can express exactly',
        refusals,
      },
    );
  }

  const doc: TfjsModelJson = {
    format: 'layers-model',
    generatedBy: 'convnet-serve',
    convertedBy: null,
    modelTopology: {
      class_name: 'Functional',
      config: {
        name: graph.name,
        layers,
        input_layers: [[INPUT_NAME, 0, 0]],
        output_layers: [[src(graph.output), 0, 0]],
      },
      keras_version: KERAS_DIALECT,
      backend: 'tensorflow',
    },
    weightsManifest: [{ paths: [], weights }],
  };
  return { doc, sources };
}
