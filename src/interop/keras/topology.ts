/**
 * The structure of a Keras model config (`model.to_json()`, or a tfjs modelTopology): which layers
 * there are, who feeds whom, and the input shape. Reads both dialects of the wiring:
 *
 * - Keras 2 (tf.keras 2.x, tfjs-layers): `inbound_nodes: [[["conv1", 0, 0, {}], …]]`, one inner list
 *   per call of the layer, one `[layer, node index, tensor index, kwargs]` per input tensor.
 * - Keras 3: `inbound_nodes: [{"args": [...], "kwargs": {...}}]`, where every input tensor is a
 *   `{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, tensor]}}` nested
 *   anywhere in args (Add and Concatenate receive a list: `args: [[t1, t2]]`).
 *
 * `input_layers` / `output_layers` are lists of `[layer, node, tensor]` in Keras 2 and in Keras 3
 * when the model was built from a list; Keras 3 writes a single bare `[layer, node, tensor]` when it
 * was built from one tensor, and a dict for named inputs. All three are read.
 */
import { SpecLimitError } from '../../errors.js';
import { DEFAULT_SPEC_LIMITS, type SpecLimits } from '../../spec/normalize.js';
import type { Shape3 } from '../../spec/types.js';
import { InvalidModelConfigError, unsupportedInputShapeError, unsupportedModelError } from '../errors.js';

/** One layer entry of the config's layer list. */
export interface KerasLayerEntry {
  name: string;
  className: string;
  /** Keras 3's `module` (`keras.layers`, or `keras.src.ops.numpy` for an operation), when written. */
  module?: string;
  config: Record<string, unknown>;
  /** JSON path of the entry, e.g. `config.layers[3]`. */
  at: string;
  /** One entry per call of the layer (more than one: a shared layer). */
  calls: KerasCall[];
  /** The raw entry, for a nested model. */
  raw: Record<string, unknown>;
}

/** One call of a layer: the tensors it reads, and the constants it was called with. */
export interface KerasCall {
  refs: KerasRef[];
  /** Top-level positional arguments in order: a tensor, or a constant (Keras 3 operations: `ops.add(x, 3.0)`). */
  positional: ({ tensor: KerasRef } | { value: unknown })[];
  /** Keyword arguments that are not tensors (Keras 2 TFOpLambda keeps `y` here: `tf.math.multiply(x, y=0.5)`). */
  kwargs: Record<string, unknown>;
}

export interface KerasRef {
  layer: string;
  node: number;
  tensor: number;
}

/**
 * Which Keras wrote the config: Keras 3 changed some definitions (hard_sigmoid) and how configs
 * are written (`module`, `registered_name`, inbound nodes as args/kwargs).
 */
export type KerasDialect = 'keras2' | 'keras3';

export interface KerasTopology {
  /** The model's name (`config.name`). */
  name: string;
  dialect: KerasDialect;
  className: 'Functional' | 'Sequential';
  /** Every entry of the layer list, in the config's order (InputLayers included). */
  layers: KerasLayerEntry[];
  /** Functional: the leaves of input_layers / output_layers, with the path they were read at. */
  inputRefs: { refs: KerasRef[]; at: string };
  outputRefs: { refs: KerasRef[]; at: string };
}

type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

function expectObject(v: unknown, at: string, expected: string): Json {
  if (!isObject(v)) throw new InvalidModelConfigError(at, v, expected);
  return v;
}

function expectArray(v: unknown, at: string, expected: string): unknown[] {
  if (!Array.isArray(v)) throw new InvalidModelConfigError(at, v, expected);
  return v;
}

const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);

/** Deepest nesting we follow inside a Keras 3 call's args (real configs need 3 or 4). */
const MAX_ARG_DEPTH = 32;

function isRefLeaf(v: unknown): v is [string, number, number, ...unknown[]] {
  return (
    Array.isArray(v) &&
    v.length >= 3 &&
    typeof v[0] === 'string' &&
    typeof v[1] === 'number' &&
    typeof v[2] === 'number'
  );
}

function toRef(v: [string, number, number, ...unknown[]], at: string): KerasRef {
  const [layer, node, tensor] = v;
  if (!Number.isInteger(node) || node < 0 || !Number.isInteger(tensor) || tensor < 0) {
    throw new InvalidModelConfigError(
      at,
      v,
      '[layer name, node index, tensor index] with non-negative integer indices',
    );
  }
  return { layer, node, tensor };
}

/** input_layers / output_layers: a bare reference, a list of them, or a dict of them (Keras 3). */
function readRefStructure(v: unknown, at: string): KerasRef[] {
  if (isRefLeaf(v)) return [toRef(v, at)];
  if (Array.isArray(v)) return v.flatMap((item, i) => readRefStructure(item, `${at}[${i}]`));
  if (isObject(v)) return Object.entries(v).flatMap(([k, item]) => readRefStructure(item, `${at}.${k}`));
  throw new InvalidModelConfigError(
    at,
    v,
    '[layer name, node index, tensor index], or a list or dict of them',
  );
}

/** Every `__keras_tensor__` in a Keras 3 call's args and kwargs, in the order they appear. */
function collectKerasTensors(v: unknown, at: string, out: KerasRef[], depth = 0): void {
  if (depth > MAX_ARG_DEPTH)
    throw new InvalidModelConfigError(
      at,
      '(deeper nesting)',
      `call arguments nested at most ${MAX_ARG_DEPTH} deep`,
    );
  if (Array.isArray(v)) {
    for (const [i, item] of v.entries()) collectKerasTensors(item, `${at}[${i}]`, out, depth + 1);
  } else if (isObject(v)) {
    if (v.class_name === '__keras_tensor__') {
      const history = isObject(v.config) ? v.config.keras_history : undefined;
      if (!isRefLeaf(history))
        throw new InvalidModelConfigError(
          `${at}.config.keras_history`,
          history,
          '[layer name, node index, tensor index]',
        );
      out.push(toRef(history, `${at}.config.keras_history`));
      return;
    }
    for (const [k, item] of Object.entries(v)) collectKerasTensors(item, `${at}.${k}`, out, depth + 1);
  }
}

const isKerasTensor = (v: unknown): v is Json => isObject(v) && v.class_name === '__keras_tensor__';

/** One call of a layer, in either dialect. */
function readCall(node: unknown, at: string): KerasCall {
  if (Array.isArray(node)) {
    // Keras 2: a list of [layer, node, tensor, kwargs?].
    const refs = node.map((ref, i) => {
      if (!isRefLeaf(ref))
        throw new InvalidModelConfigError(
          `${at}[${i}]`,
          ref,
          '[layer name, node index, tensor index, kwargs]',
        );
      return toRef(ref, `${at}[${i}]`);
    });
    const kwargs = node.length > 0 && isObject(node[0][3]) ? (node[0][3] as Json) : {};
    return { refs, positional: refs.map((tensor) => ({ tensor })), kwargs };
  }
  if (isObject(node) && ('args' in node || 'kwargs' in node)) {
    const refs: KerasRef[] = [];
    collectKerasTensors(node.args ?? [], `${at}.args`, refs);
    collectKerasTensors(node.kwargs ?? {}, `${at}.kwargs`, refs);
    const args = Array.isArray(node.args) ? node.args : [];
    const positional = args.map((arg, i) => {
      if (!isKerasTensor(arg)) return { value: arg };
      const history = isObject(arg.config) ? arg.config.keras_history : undefined;
      return { tensor: toRef(history as [string, number, number], `${at}.args[${i}].config.keras_history`) };
    });
    const kwargs = isObject(node.kwargs)
      ? Object.fromEntries(Object.entries(node.kwargs).filter(([, v]) => !isKerasTensor(v)))
      : {};
    return { refs, positional, kwargs };
  }
  throw new InvalidModelConfigError(
    at,
    node,
    'a Keras 2 inbound node (a list of [layer, node, tensor, kwargs]) or a Keras 3 one ({"args": …, "kwargs": …})',
  );
}

function readEntry(raw: unknown, at: string, functional: boolean): KerasLayerEntry {
  const entry = expectObject(raw, at, 'a layer object with "class_name" and "config"');
  if (typeof entry.class_name !== 'string' || entry.class_name === '') {
    throw new InvalidModelConfigError(`${at}.class_name`, entry.class_name, 'a layer class name');
  }
  const config = expectObject(entry.config, `${at}.config`, "the layer's config object");
  const name = entry.name ?? config.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new InvalidModelConfigError(`${at}.name`, name, 'a layer name of 1 to 200 characters');
  }
  let calls: KerasCall[] = [];
  if (functional) {
    const inbound = expectArray(entry.inbound_nodes ?? [], `${at}.inbound_nodes`, 'a list of inbound nodes');
    calls = inbound.map((node, i) => readCall(node, `${at}.inbound_nodes[${i}]`));
  }
  return {
    name,
    className: entry.class_name,
    ...(typeof entry.module === 'string' ? { module: entry.module } : {}),
    config,
    at,
    calls,
    raw: entry,
  };
}

/**
 * Reads the model's envelope and layer list. `prefix` is where the config sits in the submitted
 * JSON (`''` for a Keras config, `modelTopology.` for a tfjs model.json), so paths in errors are real.
 */
export function readKerasTopology(
  json: unknown,
  prefix: string,
  limits: SpecLimits = DEFAULT_SPEC_LIMITS,
): KerasTopology {
  const where = prefix.replace(/\.$/, '') || 'model';
  const top = expectObject(
    json,
    where,
    'a Keras model config {"class_name": "Functional" | "Sequential", "config": {...}}',
  );
  const cls = top.class_name;
  if (typeof cls !== 'string')
    throw new InvalidModelConfigError(`${prefix}class_name`, cls, '"Functional", "Model" or "Sequential"');
  if (!MODEL_CLASSES.has(cls)) {
    throw unsupportedModelError(
      `${prefix}class_name`,
      cls,
      `a ${JSON.stringify(cls)} model has no layer graph in its config (subclassed models cannot be read; rebuild it as a Functional or Sequential model)`,
      '"Functional", "Model" or "Sequential"',
    );
  }
  const sequential = cls === 'Sequential';
  // Keras before 2.2.3 wrote a Sequential config as the bare layer list.
  const config: Json =
    sequential && Array.isArray(top.config)
      ? { layers: top.config }
      : expectObject(top.config, `${prefix}config`, 'the model config object');
  const layersAt = Array.isArray(top.config) ? `${prefix}config` : `${prefix}config.layers`;
  const rawLayers = expectArray(config.layers, layersAt, 'the list of layers');
  if (rawLayers.length > limits.maxLayers) {
    throw new SpecLimitError(layersAt, `${rawLayers.length} layers`, `at most ${limits.maxLayers} layers`);
  }
  const layers = rawLayers.map((raw, i) => readEntry(raw, `${layersAt}[${i}]`, !sequential));
  const seen = new Map<string, string>();
  for (const l of layers) {
    const before = seen.get(l.name);
    if (before)
      throw new InvalidModelConfigError(`${l.at}.name`, l.name, `a name not already used (by ${before})`);
    seen.set(l.name, l.at);
  }
  const name = typeof config.name === 'string' && config.name.length <= 200 ? config.name : 'keras_model';
  const dialect = dialectOf(top, rawLayers);
  if (sequential) {
    return {
      name,
      dialect,
      className: 'Sequential',
      layers,
      inputRefs: { refs: [], at: layersAt },
      outputRefs: { refs: [], at: layersAt },
    };
  }
  return {
    name,
    dialect,
    className: 'Functional',
    layers,
    inputRefs: {
      refs: readRefStructure(config.input_layers, `${prefix}config.input_layers`),
      at: `${prefix}config.input_layers`,
    },
    outputRefs: {
      refs: readRefStructure(config.output_layers, `${prefix}config.output_layers`),
      at: `${prefix}config.output_layers`,
    },
  };
}

function dialectOf(top: Json, rawLayers: unknown[]): KerasDialect {
  if (typeof top.keras_version === 'string') return top.keras_version.startsWith('3') ? 'keras3' : 'keras2';
  // Keras 3 writes `module` and `registered_name` beside every class_name.
  return rawLayers.some((l) => isObject(l) && typeof l.module === 'string' && 'registered_name' in l) ||
    'module' in top
    ? 'keras3'
    : 'keras2';
}

/**
 * `[None, H, W, C]` → [H, W, C]. The batch axis must be free (None) and every other size known,
 * since the analyzer counts exact figures for one image.
 */
export function readBatchShape(value: unknown, at: string, limits: SpecLimits = DEFAULT_SPEC_LIMITS): Shape3 {
  const expected = 'an image input [None, height, width, channels] (channels_last)';
  if (!Array.isArray(value) || value.length !== 4) throw unsupportedInputShapeError(at, value, expected);
  if (value[0] !== null) {
    throw unsupportedInputShapeError(
      `${at}[0]`,
      value[0],
      'None (null) for the batch dimension: the analyzer reports per image and scales by the requested batch',
    );
  }
  const axes = ['height', 'width', 'channels'];
  return [1, 2, 3].map((i) => {
    const d = value[i];
    if (d === null) {
      throw unsupportedInputShapeError(
        `${at}[${i}]`,
        d,
        `a known ${axes[i - 1]}: the model leaves it open, so give the size to analyse at beside the model ("input": [height, width, channels]) or with --input H,W,C`,
      );
    }
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1)
      throw new InvalidModelConfigError(`${at}[${i}]`, d, `a positive integer ${axes[i - 1]}`);
    const max = i === 3 ? 65_536 : limits.maxInputSide;
    if (d > max) throw new SpecLimitError(`${at}[${i}]`, d, `a ${axes[i - 1]} of at most ${max}`);
    return d;
  }) as Shape3;
}

/** Where a layer's config states the shape of the model input (InputLayer, or a first layer built with input_shape). */
export function declaredBatchShape(config: Json): { key: string; value: unknown } | undefined {
  for (const key of ['batch_input_shape', 'batch_shape']) {
    if (config[key] !== undefined && config[key] !== null) return { key, value: config[key] };
  }
  return undefined;
}

/** An input size the caller gives ([H, W, C]), for models saved with open sizes or to analyse at another size. */
export function readGivenInput(value: unknown, limits: SpecLimits = DEFAULT_SPEC_LIMITS): Shape3 {
  const axes = ['height', 'width', 'channels'];
  if (!Array.isArray(value) || value.length !== 3)
    throw new InvalidModelConfigError('input', value, '[height, width, channels]');
  return value.map((d, i) => {
    const max = i === 2 ? 65_536 : limits.maxInputSide;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1)
      throw new InvalidModelConfigError(`input[${i}]`, d, `a positive integer ${axes[i]}`);
    if (d > max) throw new SpecLimitError(`input[${i}]`, d, `a ${axes[i]} of at most ${max}`);
    return d;
  }) as Shape3;
}
