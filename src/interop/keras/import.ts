/**
 * Keras model configs → our Graph, so the analyzer can read models people already have:
 * `model.to_json()` from Keras 2 (tf.keras 2.x) or Keras 3, Functional or Sequential, and the
 * TensorFlow.js layers-model `model.json` (whose topology is a Keras config).
 *
 * The import runs in this order, so that an error reports everything of its kind at once:
 * 1. the envelope and layer list (malformed JSON structure: 400 INVALID_MODEL_CONFIG);
 * 2. every layer class must have a reader (422 UNSUPPORTED_LAYERS listing every unknown class and
 *    the layers using it: an unknown layer is never counted as zero);
 * 3. one input, one output, no shared layers (422 UNSUPPORTED_MODEL), an input shape [None, H, W, C]
 *    (422 UNSUPPORTED_INPUT_SHAPE);
 * 4. every layer's options (422 UNSUPPORTED_LAYER_CONFIG listing every problem);
 * 5. shapes, through the analyzer's own rules (400 SHAPE_MISMATCH naming the layer's JSON path).
 *
 * Names are the Keras layer names, so Keras weights bind by name. The InputLayer becomes the graph
 * input (`input`); a Conv2D's fused activation becomes `<name>_activation` (see keras-layers.ts).
 * Layers keep the config's order when it is a valid execution order (Keras writes layers by depth,
 * which always is); otherwise they are sorted topologically, keeping the config's order where free.
 * Blocks (residual, inception) are detected from the wiring: see blocks.ts.
 */
import { AppError, SpecLimitError } from '../../errors.js';
import { DEFAULT_SPEC_LIMITS, type SpecLimits } from '../../spec/normalize.js';
import { shapeNode } from '../../spec/shapes.js';
import { INPUT_NAME, type Graph, type GraphNode, type Shape3, type TensorShape } from '../../spec/types.js';
import { detectBlocks } from '../blocks.js';
import {
  InvalidModelConfigError,
  nameConflictError,
  unsupportedConfigError,
  unsupportedLayersError,
  unsupportedModelError,
  unsupportedInputShapeError,
  type ImportProblem,
} from '../errors.js';
import { isSupportedKerasClass, KERAS_LAYER_READERS, Options } from './layers.js';
import { declaredBatchShape, isObject, readBatchShape, readKerasTopology, type KerasLayerEntry, type KerasTopology } from './topology.js';

export { SUPPORTED_KERAS_CLASSES } from './layers.js';

export interface ImportOptions {
  limits?: SpecLimits;
}

/** A layer with its producers resolved to Keras layer names (the input layer included). */
interface Wired {
  entry: KerasLayerEntry;
  inputs: string[];
}

function parseIfText(json: unknown, field: string): unknown {
  if (typeof json !== 'string') return json;
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new InvalidModelConfigError(field, `${json.slice(0, 40)}…`, `JSON text (${(err as Error).message})`);
  }
}

function checkClasses(topology: KerasTopology): void {
  const unknown = new Map<string, string[]>();
  for (const l of topology.layers) {
    if (isSupportedKerasClass(l.className)) continue;
    const list = unknown.get(l.className) ?? [];
    list.push(l.name);
    unknown.set(l.className, list);
  }
  if (unknown.size) throw unsupportedLayersError(unknown);
}

/** Sequential: a chain, the input shape from an InputLayer or the first layer's batch_input_shape. */
function wireSequential(topology: KerasTopology, top: Record<string, unknown>, prefix: string, limits: SpecLimits): { wired: Wired[]; input: Shape3; inputLayer: string | null; output: string } {
  const layers = topology.layers;
  if (layers.length === 0) throw new InvalidModelConfigError(`${prefix}config.layers`, [], 'at least one layer');
  let input: Shape3 | undefined;
  let inputLayer: string | null = null;
  let body = layers;
  if (layers[0].className === 'InputLayer') {
    inputLayer = layers[0].name;
    const declared = declaredBatchShape(layers[0].config);
    if (declared) input = readBatchShape(declared.value, `${layers[0].at}.config.${declared.key}`, limits);
    body = layers.slice(1);
  }
  const stray = body.find((l) => l.className === 'InputLayer');
  if (stray) throw unsupportedModelError(stray.at, stray.name, `InputLayer ${stray.name} is not the first layer of the Sequential model`, 'one InputLayer, first');
  if (body.length === 0) throw new InvalidModelConfigError(`${prefix}config.layers`, layers.map((l) => l.name), 'at least one layer after the InputLayer');
  if (!input) {
    const declared = declaredBatchShape(body[0].config);
    const config = isObject(top.config) ? top.config : {};
    const build = isObject(top.build_config) ? top.build_config.input_shape : undefined;
    if (declared) input = readBatchShape(declared.value, `${body[0].at}.config.${declared.key}`, limits);
    else if (config.build_input_shape != null) input = readBatchShape(config.build_input_shape, `${prefix}config.build_input_shape`, limits);
    else if (build != null) input = readBatchShape(build, `${prefix}build_config.input_shape`, limits);
    else {
      throw unsupportedInputShapeError(`${body[0].at}.config.batch_input_shape`, undefined,
        'the input shape: give the first layer input_shape, or start the model with an InputLayer / keras.Input');
    }
  }
  let previous = inputLayer ?? INPUT_NAME;
  const wired = body.map((entry) => {
    const w = { entry, inputs: [previous] };
    previous = entry.name;
    return w;
  });
  return { wired, input, inputLayer, output: previous };
}

/** Functional: one input, one output, each layer called once; the input shape from the InputLayer. */
function wireFunctional(topology: KerasTopology, limits: SpecLimits): { wired: Wired[]; input: Shape3; inputLayer: string; output: string } {
  const byName = new Map(topology.layers.map((l) => [l.name, l]));
  const { inputRefs, outputRefs } = topology;
  if (inputRefs.refs.length !== 1) {
    throw unsupportedModelError(inputRefs.at, inputRefs.refs.map((r) => r.layer),
      `the model has ${inputRefs.refs.length} inputs (${inputRefs.refs.map((r) => r.layer).join(', ') || 'none'}); only single-input image models can be analysed`, 'exactly one input');
  }
  if (outputRefs.refs.length !== 1) {
    throw unsupportedModelError(outputRefs.at, outputRefs.refs.map((r) => r.layer),
      `the model has ${outputRefs.refs.length} outputs (${outputRefs.refs.map((r) => r.layer).join(', ') || 'none'}); only single-output models can be analysed`, 'exactly one output');
  }
  const inputName = inputRefs.refs[0].layer;
  const inputEntry = byName.get(inputName);
  if (!inputEntry) throw new InvalidModelConfigError(`${inputRefs.at}[0]`, inputName, 'the name of a layer in config.layers');
  if (inputEntry.className !== 'InputLayer') throw new InvalidModelConfigError(`${inputRefs.at}[0]`, inputName, 'the name of an InputLayer');
  const otherInputs = topology.layers.filter((l) => l.className === 'InputLayer' && l !== inputEntry);
  if (otherInputs.length) {
    throw unsupportedModelError(otherInputs[0].at, otherInputs.map((l) => l.name),
      `the model has more InputLayers than ${inputName} (${otherInputs.map((l) => l.name).join(', ')}); only single-input image models can be analysed`, 'exactly one InputLayer');
  }
  const declared = declaredBatchShape(inputEntry.config);
  if (!declared) throw unsupportedInputShapeError(`${inputEntry.at}.config.batch_input_shape`, undefined, 'the input shape [None, height, width, channels]');
  const input = readBatchShape(declared.value, `${inputEntry.at}.config.${declared.key}`, limits);

  const output = outputRefs.refs[0];
  if (!byName.has(output.layer)) throw new InvalidModelConfigError(`${outputRefs.at}[0]`, output.layer, 'the name of a layer in config.layers');
  if (output.layer === inputName) throw unsupportedModelError(outputRefs.at, output.layer, 'the model output is its input; there is nothing to analyse', 'a layer after the input');

  const wired: Wired[] = [];
  for (const entry of topology.layers) {
    if (entry === inputEntry) continue;
    if (entry.calls.length !== 1) {
      const why = entry.calls.length === 0
        ? `layer ${entry.name} is never called (it has no inbound nodes)`
        : `layer ${entry.name} is called ${entry.calls.length} times; shared layers are not supported (their weights would be counted once per call)`;
      throw unsupportedModelError(`${entry.at}.inbound_nodes`, entry.calls.length, why, 'each layer called exactly once');
    }
    const refs = entry.calls[0];
    if (refs.length === 0) throw new InvalidModelConfigError(`${entry.at}.inbound_nodes[0]`, [], 'at least one input tensor');
    refs.forEach((ref, i) => {
      const at = `${entry.at}.inbound_nodes[0]`;
      const producer = byName.get(ref.layer);
      if (!producer) throw new InvalidModelConfigError(at, ref.layer, `the name of a layer in the model (input ${i} of ${entry.name})`);
      if (ref.node !== 0) throw unsupportedModelError(at, ref, `${entry.name} reads call ${ref.node} of ${ref.layer}; shared layers are not supported`, 'node index 0');
      if (ref.tensor !== 0) throw unsupportedModelError(at, ref, `${entry.name} reads output ${ref.tensor} of ${ref.layer}; every layer we read has one output`, 'tensor index 0');
    });
    wired.push({ entry, inputs: refs.map((r) => r.layer) });
  }
  return { wired, input, inputLayer: inputName, output: output.layer };
}

/** Keeps the config's order if it is an execution order; otherwise a stable topological sort. */
function executionOrder(wired: Wired[], inputLayer: string | null, layersAt: string): Wired[] {
  const available = new Set<string>([INPUT_NAME, ...(inputLayer ? [inputLayer] : [])]);
  if (wired.every((w) => {
    const ok = w.inputs.every((i) => available.has(i));
    available.add(w.entry.name);
    return ok;
  })) return wired;

  const position = new Map(wired.map((w, i) => [w.entry.name, i]));
  const waiting = wired.map((w) => new Set(w.inputs.filter((i) => position.has(i))).size);
  const readers = new Map<string, number[]>();
  wired.forEach((w, i) => {
    for (const src of new Set(w.inputs)) {
      if (!position.has(src)) continue;
      readers.set(src, [...(readers.get(src) ?? []), i]);
    }
  });
  // A min-heap would be asymptotically better; configs are small and this runs only on odd files.
  const ready = wired.map((_, i) => i).filter((i) => waiting[i] === 0);
  const order: Wired[] = [];
  while (ready.length) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    order.push(wired[i]);
    for (const r of readers.get(wired[i].entry.name) ?? []) if (--waiting[r] === 0) ready.push(r);
  }
  if (order.length !== wired.length) {
    const stuck = wired.filter((w) => !order.includes(w)).map((w) => w.entry.name);
    throw new InvalidModelConfigError(layersAt, stuck.slice(0, 20), 'layers without a cycle in their inbound nodes');
  }
  return order;
}

function buildGraph(topology: KerasTopology, top: Record<string, unknown>, prefix: string, limits: SpecLimits): Graph {
  checkClasses(topology);
  const { wired, input, inputLayer, output } = topology.className === 'Sequential'
    ? wireSequential(topology, top, prefix, limits)
    : wireFunctional(topology, limits);
  const ordered = executionOrder(wired, inputLayer, `${prefix}config.layers`);

  const kerasNames = new Set(ordered.map((w) => w.entry.name));
  const reserved = ordered.find((w) => w.entry.name === INPUT_NAME);
  if (reserved) throw nameConflictError(`${reserved.entry.at}.name`, INPUT_NAME, `is reserved for the network input, and ${reserved.entry.name} is not the InputLayer`);

  /** Keras layer name → name of the graph node holding its output. */
  const tensorOf = new Map<string, string>([[inputLayer ?? INPUT_NAME, INPUT_NAME], [INPUT_NAME, INPUT_NAME]]);
  const shapes = new Map<string, TensorShape | undefined>([[INPUT_NAME, input]]);
  const problems: ImportProblem[] = [];
  let shapeError: unknown;
  const nodes: GraphNode[] = [];
  const generated = new Set<string>();

  for (const { entry, inputs } of ordered) {
    const inputNames = inputs.map((i) => tensorOf.get(i)!);
    const inputShapes = inputNames.map((n) => shapes.get(n));
    const drafts = KERAS_LAYER_READERS[entry.className]({ layer: entry, inputShapes, opts: new Options(entry, problems, topology.dialect) });
    let previous = inputNames;
    let known = inputShapes.every((s) => s !== undefined);
    for (const d of drafts) {
      const name = `${entry.name}${d.suffix}`;
      if (d.suffix) {
        if (kerasNames.has(name) || generated.has(name)) throw nameConflictError(d.at, name, `is also the name the importer gives ${entry.name}'s fused activation`);
        generated.add(name);
      }
      const node = { name, kind: d.kind, attrs: d.attrs, inputs: previous, blockPath: [], specPath: d.at } as GraphNode;
      nodes.push(node);
      if (nodes.length > limits.maxLayers) throw new SpecLimitError(entry.at, `more than ${limits.maxLayers} layers`, `at most ${limits.maxLayers} layers`);
      let shape: TensorShape | undefined;
      if (known) {
        try {
          shape = shapeNode(node, previous.map((p) => shapes.get(p)!)).outputShape;
        } catch (err) {
          shapeError ??= err;
          known = false;
        }
      }
      shapes.set(name, shape);
      previous = [name];
    }
    tensorOf.set(entry.name, previous[0]);
  }
  if (problems.length) throw unsupportedConfigError(problems);
  if (shapeError) throw shapeError;

  const { blocks, blockPaths } = detectBlocks(nodes);
  for (const node of nodes) node.blockPath = blockPaths.get(node.name) ?? [];
  return { name: topology.name, input, nodes, output: tensorOf.get(output)!, blocks };
}

/**
 * A Keras model config, as `model.to_json()` writes it (the JSON text or the parsed object), from
 * Keras 2 or Keras 3, Functional or Sequential. Throws AppError (400/413/422) naming what it cannot read.
 */
export function graphFromKerasConfig(json: unknown, options: ImportOptions = {}): Graph {
  return readConfig(parseIfText(json, 'model'), '', options.limits ?? DEFAULT_SPEC_LIMITS);
}

function readConfig(json: unknown, prefix: string, limits: SpecLimits): Graph {
  const topology = readKerasTopology(json, prefix, limits);
  return buildGraph(topology, json as Record<string, unknown>, prefix, limits);
}

/**
 * A TensorFlow.js layers-model `model.json` (tensorflowjs_converter or tfjs `model.save`): its
 * `modelTopology` is a Keras config, either bare ({class_name, config, keras_version, backend}) or
 * wrapped in `model_config`. A bare topology object is accepted too. Weights are not read here.
 */
export function graphFromTfjsModelJson(json: unknown, options: ImportOptions = {}): Graph {
  const limits = options.limits ?? DEFAULT_SPEC_LIMITS;
  const doc = parseIfText(json, 'model.json');
  if (!isObject(doc)) throw new InvalidModelConfigError('model.json', doc, 'a tfjs layers-model model.json object');
  if (doc.format !== undefined && doc.format !== 'layers-model') {
    throw new AppError(422, 'UNSUPPORTED_MODEL',
      `format: ${JSON.stringify(doc.format)} models hold a TensorFlow graph, not Keras layers; only "layers-model" can be analysed`,
      { field: 'format', received: doc.format, expected: '"layers-model"' });
  }
  let topology: unknown = doc;
  let prefix = '';
  if (doc.modelTopology !== undefined) {
    topology = doc.modelTopology;
    prefix = 'modelTopology.';
  }
  if (isObject(topology) && topology.model_config !== undefined) {
    prefix = `${prefix}model_config.`;
    topology = parseIfText(topology.model_config, prefix.slice(0, -1));
  }
  return readConfig(topology, prefix, limits);
}

export type ModelFormat = 'tfjs-layers-model' | 'tfjs-graph-model' | 'keras-config' | 'unknown';

/**
 * What a submitted body is: a tfjs model.json (`format`, `modelTopology`, or a bare topology with
 * `model_config`), a raw Keras config (`class_name` + `config`), or neither.
 */
export function detectModelFormat(body: unknown): ModelFormat {
  if (!isObject(body)) return 'unknown';
  if (body.format === 'graph-model') return 'tfjs-graph-model';
  if (body.format === 'layers-model' || body.modelTopology !== undefined || body.model_config !== undefined) return 'tfjs-layers-model';
  if (typeof body.class_name === 'string' && body.config !== undefined) return 'keras-config';
  return 'unknown';
}
