/**
 * One table maps each Keras layer class to a reader that turns its config into our leaf layers.
 * Adding a class is one entry here and one test. Readers never guess: an option we cannot express
 * exactly is recorded as a problem (the import then fails with all of them listed), and a value of
 * the wrong type is an INVALID_MODEL_CONFIG error.
 *
 * Conventions:
 * - Conv2D and DepthwiseConv2D carry their own `activation` in Keras; we have no fused activation on
 *   conv2d, so a non-linear one becomes an extra `activation` layer named `<layer>_activation`
 *   (it costs 0 MACs and one element op per output, as any activation does). Dense keeps its activation.
 * - DepthwiseConv2D(depth_multiplier m) on C channels is conv2d with groups = C, filters = C·m. Its
 *   weight count is Keras' (kh·kw·C·m plus bias); our kernel is laid out [kh, kw, 1, C·m] where
 *   Keras' depthwise_kernel is [kh, kw, C, m].
 * - Only channels_last is read; data_format null means the Keras default, channels_last.
 */
import { ACTIVATION_FNS, type ActivationFn, type LeafAttrsByKind, type LeafKind, type Pair, type Padding, type TensorShape } from '../spec/types.js';
import { InvalidModelConfigError, type ImportProblem } from './errors.js';
import { isObject, type KerasLayerEntry } from './keras-topology.js';

/** One leaf layer a Keras layer becomes. The last draft's output is the Keras layer's output. */
export type Draft = { [K in LeafKind]: { suffix: '' | '_activation'; kind: K; attrs: LeafAttrsByKind[K]; at: string } }[LeafKind];

export interface ReadContext {
  layer: KerasLayerEntry;
  /** Per-image shapes of the layer's inputs (no batch axis); undefined where an earlier layer failed. */
  inputShapes: (TensorShape | undefined)[];
  opts: Options;
}

export type LayerReader = (cx: ReadContext) => Draft[];

/** Reads a layer's config fields, recording what cannot be expressed and throwing on what is malformed. */
export class Options {
  constructor(
    private readonly layer: KerasLayerEntry,
    private readonly problems: ImportProblem[],
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
    this.problems.push({ layer: this.layer.name, className: this.layer.className, field, received, expected });
  }

  malformed(key: string, received: unknown, expected: string): never {
    throw new InvalidModelConfigError(this.field(key), received, expected);
  }

  int(key: string, fallback?: number, min = 1, max = 1_000_000): number {
    const v = this.cfg[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.malformed(key, v, `an integer from ${min} to ${max}`);
    return v;
  }

  /** A size written as n or [h, w] (Keras stores tuples as lists). */
  pair(key: string, fallback?: Pair, max = 1024): Pair {
    const v = this.cfg[key];
    if ((v === undefined || v === null) && fallback) return fallback;
    const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= max;
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
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.malformed(key, v, `a number from ${min} to ${max}`);
    return v;
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
  activation(key = 'activation'): ActivationFn {
    let v = this.cfg[key];
    if (v === undefined || v === null) return 'linear';
    if (isObject(v) && typeof v.config === 'string') v = v.config;
    if (typeof v === 'string' && (ACTIVATION_FNS as readonly string[]).includes(v)) return v as ActivationFn;
    this.unsupported(key, this.cfg[key], `one of ${ACTIVATION_FNS.join(', ')}`);
    return 'linear';
  }

  channelsLast(): void {
    const v = this.cfg.data_format;
    if (v !== undefined && v !== null && v !== 'channels_last') this.unsupported('data_format', v, '"channels_last" (the only layout the analyzer reads)');
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
  const fn = cx.opts.activation();
  if (fn === 'linear') return [main];
  return [main, { suffix: '_activation', kind: 'activation', attrs: { function: fn }, at: cx.opts.field('activation') }];
}

function conv(cx: ReadContext): Draft[] {
  const o = cx.opts;
  o.channelsLast();
  const filters = o.int('filters');
  const groups = o.int('groups', 1);
  if (filters % groups !== 0) o.malformed('groups', groups, `a divisor of filters (${filters})`);
  return withActivation(cx, draft(cx, 'conv2d', {
    filters,
    kernel: o.pair('kernel_size'),
    strides: o.pair('strides', [1, 1]),
    padding: o.padding(),
    dilation: o.pair('dilation_rate', [1, 1]),
    groups,
    bias: o.bool('use_bias', true),
  }));
}

function depthwise(cx: ReadContext): Draft[] {
  const o = cx.opts;
  o.channelsLast();
  const multiplier = o.int('depth_multiplier', 1);
  const shape = cx.inputShapes[0];
  if (shape && shape.length !== 3) o.unsupportedAt(cx.layer.at, shape, 'a feature map [H, W, C] as input');
  // Unknown when an earlier layer failed; the import stops before this draft is used.
  const channels = shape && shape.length === 3 ? shape[2] : 1;
  return withActivation(cx, draft(cx, 'conv2d', {
    filters: channels * multiplier,
    kernel: o.pair('kernel_size'),
    strides: o.pair('strides', [1, 1]),
    padding: o.padding(),
    dilation: o.pair('dilation_rate', [1, 1]),
    groups: channels,
    bias: o.bool('use_bias', true),
  }));
}

function pool(kind: 'maxpool' | 'avgpool'): LayerReader {
  return (cx) => {
    const o = cx.opts;
    o.channelsLast();
    const size = o.pair('pool_size', [2, 2]);
    return [draft(cx, kind, { pool: size, strides: o.pair('strides', size), padding: o.padding(), ceilMode: false, countIncludePad: false })];
  };
}

function globalPool(kind: 'globalavgpool' | 'globalmaxpool'): LayerReader {
  return (cx) => {
    cx.opts.channelsLast();
    if (cx.opts.bool('keepdims', false)) cx.opts.unsupported('keepdims', true, 'false (global pooling to a vector)');
    return [draft(cx, kind, {})];
  };
}

function zeroPadding(cx: ReadContext): Draft[] {
  const o = cx.opts;
  o.channelsLast();
  const v = cx.layer.config.padding ?? 1;
  const n = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 10_000;
  let p: [number, number, number, number] | undefined;
  if (n(v)) p = [v, v, v, v];
  else if (Array.isArray(v) && v.length === 2 && n(v[0]) && n(v[1])) p = [v[0], v[0], v[1], v[1]];
  else if (Array.isArray(v) && v.length === 2 && Array.isArray(v[0]) && Array.isArray(v[1]) && v[0].length === 2 && v[1].length === 2
    && n(v[0][0]) && n(v[0][1]) && n(v[1][0]) && n(v[1][1])) p = [v[0][0], v[0][1], v[1][0], v[1][1]];
  if (!p) return o.malformed('padding', v, 'n, [ph, pw] or [[top, bottom], [left, right]] of non-negative integers');
  return [draft(cx, 'zeropad', { padding: { mode: 'explicit', top: p[0], bottom: p[1], left: p[2], right: p[3] } })];
}

function dropout(cx: ReadContext): Draft[] {
  return [draft(cx, 'dropout', { rate: cx.opts.number('rate', 0.5, 0, 0.999999) })];
}

/**
 * Every Keras class we read. InputLayer is read by the importer itself (it becomes the graph input),
 * so its entry is never called.
 */
export const KERAS_LAYER_READERS: Readonly<Record<string, LayerReader>> = {
  InputLayer: () => [],
  Conv2D: conv,
  DepthwiseConv2D: depthwise,
  BatchNormalization: (cx) => {
    const o = cx.opts;
    o.channelAxis('axis', -1, cx.inputShapes[0]);
    if (o.bool('renorm', false)) o.unsupported('renorm', true, 'false (batch renormalisation adds weights we do not count)');
    return [draft(cx, 'batchnorm', { epsilon: o.number('epsilon', 1e-3, 0, 1), center: o.bool('center', true), scale: o.bool('scale', true) })];
  },
  Activation: (cx) => [draft(cx, 'activation', { function: cx.opts.activation() })],
  ReLU: (cx) => {
    const o = cx.opts;
    const max = cx.layer.config.max_value;
    if (o.number('negative_slope', 0, -1e9, 1e9) !== 0) o.unsupported('negative_slope', cx.layer.config.negative_slope, '0 (leaky ReLU is not a kind we have)');
    if (o.number('threshold', 0, -1e9, 1e9) !== 0) o.unsupported('threshold', cx.layer.config.threshold, '0');
    if (max !== undefined && max !== null && max !== 6) o.unsupported('max_value', max, 'null (relu) or 6 (relu6)');
    return [draft(cx, 'activation', { function: max === 6 ? 'relu6' : 'relu' })];
  },
  Softmax: (cx) => {
    cx.opts.channelAxis('axis', -1, cx.inputShapes[0]);
    return [draft(cx, 'activation', { function: 'softmax' })];
  },
  ZeroPadding2D: zeroPadding,
  MaxPooling2D: pool('maxpool'),
  AveragePooling2D: pool('avgpool'),
  GlobalAveragePooling2D: globalPool('globalavgpool'),
  GlobalMaxPooling2D: globalPool('globalmaxpool'),
  Flatten: (cx) => {
    cx.opts.channelsLast();
    return [draft(cx, 'flatten', {})];
  },
  Dense: (cx) => {
    const o = cx.opts;
    const shape = cx.inputShapes[0];
    if (shape && shape.length !== 1) {
      o.unsupportedAt(cx.layer.at, shape, 'a flat input [features] (Keras applies Dense per position on a feature map; flatten or pool first)');
    }
    return [draft(cx, 'dense', { units: o.int('units'), bias: o.bool('use_bias', true), activation: o.activation() })];
  },
  Dropout: dropout,
  // At inference SpatialDropout2D is the identity, like Dropout; it only drops whole channels in training.
  SpatialDropout2D: dropout,
  Add: (cx) => {
    if (cx.inputShapes.length < 2) throw new InvalidModelConfigError(`${cx.layer.at}.inbound_nodes`, `${cx.inputShapes.length} input`, 'at least two inputs to Add');
    return [draft(cx, 'add', { scale: 1 })];
  },
  Concatenate: (cx) => {
    cx.opts.channelAxis('axis', -1, cx.inputShapes[0]);
    return [draft(cx, 'concat', {})];
  },
};

/**
 * Class names as Keras and tfjs write them. Keras' aliases (MaxPool2D, GlobalAvgPool2D, …) are the
 * same classes, so a config always carries the canonical name listed here.
 */
export const SUPPORTED_KERAS_CLASSES: readonly string[] = Object.keys(KERAS_LAYER_READERS);

export function isSupportedKerasClass(name: string): boolean {
  return Object.hasOwn(KERAS_LAYER_READERS, name);
}
