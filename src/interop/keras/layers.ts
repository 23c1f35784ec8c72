/**
 * Keras layer classes → our leaf layers: one table entry per layer kind, listing the Keras (and
 * tfjs-layers) classes that become that kind, each with a reader. Readers never guess: an option
 * we cannot express exactly is recorded as a problem (the import then fails with all of them
 * listed), and a value of the wrong type is an INVALID_MODEL_CONFIG error.
 *
 * Conventions:
 * - Conv2D and DepthwiseConv2D carry their own `activation` in Keras; a non-linear one becomes an
 *   extra `activation` layer named `<layer>_activation` (0 MACs and one element op per output, as
 *   any activation). Dense keeps its activation.
 * - DepthwiseConv2D(depth_multiplier m) on C channels is conv2d with groups = C, filters = C·m; its
 *   weight count is Keras' (kh·kw·C·m plus bias).
 * - `hard_sigmoid` means what the file's Keras meant: clip(0.2x + 0.5, 0, 1) in Keras 2 and tfjs,
 *   relu6(x + 3)/6 in Keras 3.
 * - Only channels_last is read; data_format null means the Keras default, channels_last.
 */
import { makeActivation, type Activation } from '../../spec/activations.js';
import { SpecError } from '../../errors.js';
import { NORMALIZATION_EPSILON } from '../../spec/kinds/normalization.js';
import type { LeafAttrsByKind, LeafKind, Pair, Padding, TensorShape } from '../../spec/types.js';
import { InvalidModelConfigError, type ImportProblem } from '../errors.js';
import { isObject, type KerasCall, type KerasDialect, type KerasLayerEntry } from './topology.js';
import { defined } from '../../invariant.js';

/** One leaf layer a Keras layer becomes. The last draft's output is the Keras layer's output. */
export type Draft = {
  [K in LeafKind]: { suffix: '' | '_activation'; kind: K; attrs: LeafAttrsByKind[K]; at: string };
}[LeafKind];

export interface ReadContext {
  layer: KerasLayerEntry;
  /** The call the layer was wired from (Functional models); operations read their constants here. */
  call?: KerasCall;
  /** Per-image shapes of the layer's inputs (no batch axis); undefined where an earlier layer failed. */
  inputShapes: (TensorShape | undefined)[];
  opts: Options;
}

export type LayerReader = (cx: ReadContext) => Draft[];

/** Keras (and tfjs) activation names → our functions, with the parameters the name implies. */
function kerasActivation(name: string, dialect: KerasDialect): Activation | undefined {
  const params: Record<string, unknown> = {};
  let fn: string = name;
  switch (name) {
    case 'hard_sigmoid':
    case 'hardSigmoid':
      fn = 'hard_sigmoid';
      if (dialect !== 'keras3') Object.assign(params, { alpha: 0.2, beta: 0.5 });
      break;
    case 'gelu_new':
      fn = 'gelu';
      params.approximate = true;
      break;
    case 'leaky_relu':
      params.alpha = 0.2; // Keras 3's default negative_slope
      break;
  }
  try {
    return makeActivation(fn, params, 'activation');
  } catch (err) {
    if (err instanceof SpecError) return undefined;
    throw err;
  }
}

/** Reads a layer's config fields, recording what cannot be expressed and throwing on what is malformed. */
export class Options {
  constructor(
    private readonly layer: KerasLayerEntry,
    private readonly problems: ImportProblem[],
    readonly dialect: KerasDialect,
  ) {}

  private get cfg() {
    return this.layer.config;
  }

  field(key: string): string {
    return `${this.layer.at}.config.${key}`;
  }

  unsupported(key: string, received: unknown, expected: string): void {
    this.unsupportedAt(this.field(key), received, expected);
  }

  /** A problem with the layer as a whole (its inputs), named by the layer entry's own path. */
  unsupportedAt(field: string, received: unknown, expected: string): void {
    this.problems.push({
      layer: this.layer.name,
      className: this.layer.className,
      field,
      received,
      expected,
    });
  }

  malformed(key: string, received: unknown, expected: string): never {
    throw new InvalidModelConfigError(this.field(key), received, expected);
  }

  int(key: string, fallback?: number, min = 1, max = 1_000_000): number {
    const v = this.cfg[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.malformed(key, v, `an integer from ${min} to ${max}`);
    return v;
  }

  /** A size written as n or [h, w] (Keras stores tuples as lists). */
  pair(key: string, fallback?: Pair, max = 1024): Pair {
    const v = this.cfg[key];
    if ((v === undefined || v === null) && fallback) return fallback;
    const ok = (n: unknown): n is number =>
      typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= max;
    if (ok(v)) return [v, v];
    if (Array.isArray(v) && v.length === 2 && ok(v[0]) && ok(v[1])) return [v[0], v[1]];
    return this.malformed(key, v, `a positive integer up to ${max}, or [height, width]`);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.cfg[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.malformed(key, v, 'true or false');
    return v;
  }

  number(key: string, fallback: number, min: number, max: number): number {
    const v = this.cfg[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      this.malformed(key, v, `a number from ${min} to ${max}`);
    return v;
  }

  /** One finite number or a list of them (Rescaling's scale, Normalization's mean). */
  numbers(key: string, fallback: number[] | undefined): number[] | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return fallback;
    const list = typeof v === 'number' ? [v] : v;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      list.some((x) => typeof x !== 'number' || !Number.isFinite(x))
    ) {
      return this.malformed(key, v, 'a finite number or a non-empty list of finite numbers');
    }
    return list as number[];
  }

  /** Keras' "same" / "valid" (any case); "causal" and the rest are not 2-D paddings we read. */
  padding(key = 'padding'): Padding {
    const v = this.cfg[key];
    if (v === undefined) return { mode: 'valid' };
    const mode = typeof v === 'string' ? v.toLowerCase() : v;
    if (mode === 'same' || mode === 'valid') return { mode };
    this.unsupported(key, v, '"same" or "valid"');
    return { mode: 'valid' };
  }

  /**
   * An activation as Keras serialises it: a name ("relu"), or in Keras 3 possibly
   * {"class_name": "function", "config": "relu", …}. null means linear.
   */
  activation(key = 'activation'): Activation {
    let v = this.cfg[key];
    if (v === undefined || v === null) return { function: 'linear' };
    if (isObject(v) && typeof v.config === 'string') v = v.config;
    const a = typeof v === 'string' ? kerasActivation(v, this.dialect) : undefined;
    if (a) return a;
    this.unsupported(
      key,
      this.cfg[key],
      'one of relu, relu6, sigmoid, hard_sigmoid, tanh, softmax, linear, swish/silu, hard_swish/hard_silu, gelu, elu, leaky_relu',
    );
    return { function: 'linear' };
  }

  channelsLast(): void {
    const v = this.cfg.data_format;
    if (v !== undefined && v !== null && v !== 'channels_last')
      this.unsupported('data_format', v, '"channels_last" (the only layout the analyzer reads)');
  }

  /**
   * An axis that must be the channel axis: -1, or the last axis counted with the batch axis
   * (3 for a feature map, 1 for a vector). Keras 2 BatchNormalization writes it as a one-element list.
   */
  channelAxis(key: string, fallback: number, shape: TensorShape | undefined): void {
    let v = this.cfg[key];
    if (v === undefined || v === null) v = fallback;
    if (Array.isArray(v) && v.length === 1) v = v[0];
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.unsupported(key, this.cfg[key], 'the channel axis (-1)');
      return;
    }
    if (v === -1 || shape === undefined || v === shape.length) return;
    this.unsupported(key, this.cfg[key], `the channel axis (-1${shape ? ` or ${shape.length}` : ''})`);
  }
}

const draft = <K extends LeafKind>(cx: ReadContext, kind: K, attrs: LeafAttrsByKind[K]): Draft =>
  ({ suffix: '', kind, attrs, at: cx.layer.at }) as Draft;

/** The layer itself, then its fused activation as a separate layer when it is not linear. */
function withActivation(cx: ReadContext, main: Draft): Draft[] {
  const a = cx.opts.activation();
  if (a.function === 'linear') return [main];
  return [main, { suffix: '_activation', kind: 'activation', attrs: a, at: cx.opts.field('activation') }];
}

function conv(cx: ReadContext): Draft[] {
  const o = cx.opts;
  o.channelsLast();
  const filters = o.int('filters');
  const groups = o.int('groups', 1);
  if (filters % groups !== 0) o.malformed('groups', groups, `a divisor of filters (${filters})`);
  return withActivation(
    cx,
    draft(cx, 'conv2d', {
      filters,
      kernel: o.pair('kernel_size'),
      strides: o.pair('strides', [1, 1]),
      padding: o.padding(),
      dilation: o.pair('dilation_rate', [1, 1]),
      groups,
      bias: o.bool('use_bias', true),
    }),
  );
}

function depthwise(cx: ReadContext): Draft[] {
  const o = cx.opts;
  o.channelsLast();
  const multiplier = o.int('depth_multiplier', 1);
  const shape = cx.inputShapes[0];
  if (shape && shape.length !== 3) o.unsupportedAt(cx.layer.at, shape, 'a feature map [H, W, C] as input');
  // Unknown when an earlier layer failed; the import stops before this draft is used.
  const channels = shape && shape.length === 3 ? shape[2] : 1;
  return withActivation(
    cx,
    draft(cx, 'conv2d', {
      filters: channels * multiplier,
      kernel: o.pair('kernel_size'),
      strides: o.pair('strides', [1, 1]),
      padding: o.padding(),
      dilation: o.pair('dilation_rate', [1, 1]),
      groups: channels,
      bias: o.bool('use_bias', true),
    }),
  );
}

function pool(kind: 'maxpool' | 'avgpool'): LayerReader {
  return (cx) => {
    const o = cx.opts;
    o.channelsLast();
    const size = o.pair('pool_size', [2, 2]);
    return [
      draft(cx, kind, {
        pool: size,
        strides: o.pair('strides', size),
        padding: o.padding(),
        ceilMode: false,
        countIncludePad: false,
      }),
    ];
  };
}

function globalPool(kind: 'globalavgpool' | 'globalmaxpool'): LayerReader {
  return (cx) => {
    cx.opts.channelsLast();
    return [draft(cx, kind, { keepdims: cx.opts.bool('keepdims', false) })];
  };
}

function zeroPadding(cx: ReadContext): Draft[] {
  const o = cx.opts;
  o.channelsLast();
  const v = cx.layer.config.padding ?? 1;
  const n = (x: unknown): x is number =>
    typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 10_000;
  let p: [number, number, number, number] | undefined;
  if (n(v)) p = [v, v, v, v];
  else if (Array.isArray(v) && v.length === 2 && n(v[0]) && n(v[1])) p = [v[0], v[0], v[1], v[1]];
  else if (
    Array.isArray(v) &&
    v.length === 2 &&
    Array.isArray(v[0]) &&
    Array.isArray(v[1]) &&
    v[0].length === 2 &&
    v[1].length === 2 &&
    n(v[0][0]) &&
    n(v[0][1]) &&
    n(v[1][0]) &&
    n(v[1][1])
  )
    p = [v[0][0], v[0][1], v[1][0], v[1][1]];
  if (!p)
    return o.malformed(
      'padding',
      v,
      'n, [ph, pw] or [[top, bottom], [left, right]] of non-negative integers',
    );
  return [
    draft(cx, 'zeropad', { padding: { mode: 'explicit', top: p[0], bottom: p[1], left: p[2], right: p[3] } }),
  ];
}

function dropout(cx: ReadContext): Draft[] {
  return [draft(cx, 'dropout', { rate: cx.opts.number('rate', 0.5, 0, 0.999999) })];
}

function atLeastTwoInputs(cx: ReadContext): void {
  if (cx.inputShapes.length < 2)
    throw new InvalidModelConfigError(
      `${cx.layer.at}.inbound_nodes`,
      `${cx.inputShapes.length} input`,
      `at least two inputs to ${cx.layer.className}`,
    );
}

/** Keras' ReLU(max_value, negative_slope, threshold): relu, relu6, clip(0, max) or leaky_relu. */
function relu(cx: ReadContext): Draft[] {
  const o = cx.opts;
  const max = o.number('max_value', Number.POSITIVE_INFINITY, Number.MIN_VALUE, 1e9);
  const slope = o.number('negative_slope', 0, -1e6, 1e6);
  if (o.number('threshold', 0, -1e9, 1e9) !== 0) o.unsupported('threshold', cx.layer.config.threshold, '0');
  if (slope !== 0 && Number.isFinite(max)) o.unsupported('negative_slope', slope, '0 when max_value is set');
  if (slope !== 0) return [draft(cx, 'activation', { function: 'leaky_relu', alpha: slope })];
  if (max === 6) return [draft(cx, 'activation', { function: 'relu6' })];
  return [
    draft(cx, 'activation', Number.isFinite(max) ? { function: 'clip', min: 0, max } : { function: 'relu' }),
  ];
}

type KerasReaders = Readonly<Record<string, LayerReader>>;

/**
 * Per kind, the Keras classes that become it. A kind with no Keras class has an empty entry.
 * InputLayer is read by the importer itself (it becomes the graph input).
 */
export const KERAS_IMPORT: { [K in LeafKind]: KerasReaders } = {
  conv2d: { Conv2D: conv, DepthwiseConv2D: depthwise },
  batchnorm: {
    BatchNormalization: (cx) => {
      const o = cx.opts;
      o.channelAxis('axis', -1, cx.inputShapes[0]);
      if (o.bool('renorm', false))
        o.unsupported('renorm', true, 'false (batch renormalisation adds weights we do not count)');
      return [
        draft(cx, 'batchnorm', {
          epsilon: o.number('epsilon', 1e-3, 0, 1),
          center: o.bool('center', true),
          scale: o.bool('scale', true),
        }),
      ];
    },
  },
  activation: {
    Activation: (cx) => [draft(cx, 'activation', cx.opts.activation())],
    ReLU: relu,
    LeakyReLU: (cx) => {
      // Keras 2 and tfjs call the slope alpha, Keras 3 negative_slope; both default to 0.3.
      const key = cx.layer.config.negative_slope !== undefined ? 'negative_slope' : 'alpha';
      return [
        draft(cx, 'activation', { function: 'leaky_relu', alpha: cx.opts.number(key, 0.3, -1e6, 1e6) }),
      ];
    },
    ELU: (cx) => [draft(cx, 'activation', { function: 'elu', alpha: cx.opts.number('alpha', 1, -1e6, 1e6) })],
    Softmax: (cx) => {
      cx.opts.channelAxis('axis', -1, cx.inputShapes[0]);
      return [draft(cx, 'activation', { function: 'softmax' })];
    },
  },
  zeropad: { ZeroPadding2D: zeroPadding },
  maxpool: { MaxPooling2D: pool('maxpool') },
  avgpool: { AveragePooling2D: pool('avgpool') },
  globalavgpool: { GlobalAveragePooling2D: globalPool('globalavgpool') },
  globalmaxpool: { GlobalMaxPooling2D: globalPool('globalmaxpool') },
  flatten: {
    Flatten: (cx) => {
      cx.opts.channelsLast();
      return [draft(cx, 'flatten', {})];
    },
  },
  dense: {
    Dense: (cx) => {
      const o = cx.opts;
      const shape = cx.inputShapes[0];
      if (shape && shape.length !== 1) {
        o.unsupportedAt(
          cx.layer.at,
          shape,
          'a flat input [features] (Keras applies Dense per position on a feature map; flatten or pool first)',
        );
      }
      return [
        draft(cx, 'dense', {
          units: o.int('units'),
          bias: o.bool('use_bias', true),
          activation: o.activation(),
        }),
      ];
    },
  },
  // At inference SpatialDropout2D is the identity, like Dropout; it only drops whole channels in training.
  dropout: { Dropout: dropout, SpatialDropout2D: dropout },
  add: {
    Add: (cx) => {
      atLeastTwoInputs(cx);
      return [draft(cx, 'add', { scale: 1 })];
    },
  },
  concat: {
    Concatenate: (cx) => {
      cx.opts.channelAxis('axis', -1, cx.inputShapes[0]);
      return [draft(cx, 'concat', {})];
    },
  },
  multiply: {
    Multiply: (cx) => {
      atLeastTwoInputs(cx);
      return [draft(cx, 'multiply', {})];
    },
  },
  reshape: {
    Reshape: (cx) => {
      const o = cx.opts;
      const target = cx.layer.config.target_shape;
      const ok =
        Array.isArray(target) &&
        target.every((d) => Number.isInteger(d) && (d === -1 || d >= 1)) &&
        target.filter((d) => d === -1).length <= 1;
      if (!ok) return o.malformed('target_shape', target, 'a list of positive integers with at most one -1');
      if (target.length !== 1 && target.length !== 3) {
        o.unsupported('target_shape', target, '[C] or [H, W, C] (engines hold vectors and feature maps)');
        return [draft(cx, 'reshape', { shape: [-1] })];
      }
      return [draft(cx, 'reshape', { shape: target as number[] })];
    },
  },
  rescaling: {
    Rescaling: (cx) => [
      draft(cx, 'rescaling', {
        scale:
          cx.opts.numbers('scale', undefined) ??
          cx.opts.malformed('scale', undefined, 'a number or a list of numbers'),
        offset: cx.opts.numbers('offset', [0]) ?? [0],
      }),
    ],
  },
  normalization: {
    Normalization: (cx) => {
      const o = cx.opts;
      o.channelAxis('axis', -1, cx.inputShapes[0]);
      if (o.bool('invert', false))
        o.unsupported('invert', true, 'false (the inverse, x·σ + μ, is not a kind we have)');
      const mean = o.numbers('mean', undefined);
      const variance = o.numbers('variance', undefined);
      if ((mean === undefined) !== (variance === undefined))
        o.unsupported(
          mean ? 'variance' : 'mean',
          null,
          'mean and variance both given, or both left to the weights',
        );
      return [
        draft(
          cx,
          'normalization',
          mean && variance
            ? { mean, variance, epsilon: NORMALIZATION_EPSILON }
            : { epsilon: NORMALIZATION_EPSILON },
        ),
      ];
    },
  },
};

// --- operations: Keras 3 `keras.ops` calls and Keras 2 TFOpLambda, where they are element-wise ---

type Arithmetic = 'add' | 'subtract' | 'multiply' | 'divide';

/** TFOpLambda's `function` names for the arithmetic we read. */
const TF_FUNCTIONS: Record<string, Arithmetic> = {
  '__operators__.add': 'add',
  'math.add': 'add',
  'math.subtract': 'subtract',
  '__operators__.sub': 'subtract',
  'math.multiply': 'multiply',
  '__operators__.mul': 'multiply',
  'math.truediv': 'divide',
  '__operators__.truediv': 'divide',
  'math.divide': 'divide',
};
/** keras.ops classes (module keras.src.ops.numpy) for the same. */
const KERAS_OPS: Record<string, Arithmetic> = {
  Add: 'add',
  Subtract: 'subtract',
  Multiply: 'multiply',
  Divide: 'divide',
  TrueDivide: 'divide',
};

/**
 * x ⊕ c with a scalar constant c is `rescaling` (add: offset c; subtract: offset −c, or c − x:
 * scale −1; multiply: scale c; divide: scale 1/c); x ⊕ y of two tensors is `add` or `multiply`.
 * Anything else is recorded as unsupported.
 */
function arithmetic(op: Arithmetic): LayerReader {
  return (cx) => {
    const o = cx.opts;
    const call = cx.call;
    const tensors = call?.refs.length ?? 0;
    const kw = call?.kwargs.y;
    const constants = [
      ...(call?.positional ?? []).flatMap((p, i) => ('value' in p ? [{ value: p.value, index: i }] : [])),
      ...(kw !== undefined ? [{ value: kw, index: 1 }] : []),
    ];
    if (tensors >= 2 && constants.length === 0 && (op === 'add' || op === 'multiply'))
      return [draft(cx, op, op === 'add' ? { scale: 1 } : {})];
    const c = constants[0]?.value;
    if (tensors !== 1 || constants.length !== 1 || typeof c !== 'number' || !Number.isFinite(c)) {
      o.unsupportedAt(
        `${cx.layer.at}.inbound_nodes`,
        { tensors, constants: constants.map((k) => k.value) },
        `${op} of one tensor and one finite number, or (add, multiply) of tensors only`,
      );
      return [draft(cx, 'rescaling', { scale: [1], offset: [0] })];
    }
    const tensorFirst =
      defined(call, `${cx.layer.at}'s call arguments`).positional.findIndex((p) => 'tensor' in p) <
      constants[0].index;
    switch (op) {
      case 'add':
        return [draft(cx, 'rescaling', { scale: [1], offset: [c] })];
      case 'subtract':
        return [
          draft(cx, 'rescaling', tensorFirst ? { scale: [1], offset: [-c] } : { scale: [-1], offset: [c] }),
        ];
      case 'multiply':
        return [draft(cx, 'rescaling', { scale: [c], offset: [0] })];
      case 'divide':
        if (!tensorFirst || c === 0)
          o.unsupportedAt(`${cx.layer.at}.inbound_nodes`, c, 'x / c with a non-zero constant c');
        return [draft(cx, 'rescaling', { scale: [c === 0 ? 1 : 1 / c], offset: [0] })];
    }
  };
}

const isOperation = (entry: KerasLayerEntry) =>
  entry.module !== undefined && /^keras(\.src)?\.ops\b/.test(entry.module);

/** The reader for a Keras layer entry: by class, or for operations by what they compute. */
export function readerFor(entry: KerasLayerEntry): LayerReader | undefined {
  if (isOperation(entry))
    return Object.hasOwn(KERAS_OPS, entry.className) ? arithmetic(KERAS_OPS[entry.className]) : undefined;
  if (entry.className === 'TFOpLambda') {
    const fn = entry.config.function;
    return typeof fn === 'string' && Object.hasOwn(TF_FUNCTIONS, fn)
      ? arithmetic(TF_FUNCTIONS[fn])
      : undefined;
  }
  return Object.hasOwn(KERAS_LAYER_READERS, entry.className)
    ? KERAS_LAYER_READERS[entry.className]
    : undefined;
}

/** How an unsupported entry is named in errors: its class, or the operation it calls. */
export function kerasClassLabel(entry: KerasLayerEntry): string {
  if (isOperation(entry)) return `${entry.module}.${entry.className}`;
  if (entry.className === 'TFOpLambda') return `TFOpLambda(${String(entry.config.function)})`;
  return entry.className;
}

/** Keras class name → reader, derived from the table. */
export const KERAS_LAYER_READERS: Readonly<Record<string, LayerReader>> = {
  InputLayer: () => [],
  ...Object.assign({}, ...Object.values(KERAS_IMPORT)),
};

/**
 * Class names as Keras and tfjs write them. Keras' aliases (MaxPool2D, GlobalAvgPool2D, …) are the
 * same classes, so a config always carries the canonical name listed here.
 */
export const SUPPORTED_KERAS_CLASSES: readonly string[] = Object.keys(KERAS_LAYER_READERS);

export function isSupportedKerasClass(name: string): boolean {
  return Object.hasOwn(KERAS_LAYER_READERS, name);
}
