/**
 * Keras model configs → our Graph, so the analyzer can read models people already have:
 * `model.to_json()` from Keras 2 (tf.keras 2.x) or Keras 3, Functional or Sequential, models
 * nested in models (flattened, see flatten.ts), and the TensorFlow.js layers-model `model.json`
 * (whose topology is a Keras config). A config saved as a JSON string is decoded once.
 *
 * The import runs in this order, so that an error reports everything of its kind at once:
 * 1. the envelope and layer list (malformed JSON structure: 400 INVALID_MODEL_CONFIG);
 * 2. one input, one output, no shared layers (422 UNSUPPORTED_MODEL), at every nesting depth;
 * 3. every layer class must have a reader (422 UNSUPPORTED_LAYERS listing every unknown class and
 *    the layers using it, nested ones included: an unknown layer is never counted as zero);
 * 4. an input shape [None, H, W, C], from the model or from the caller's `input`
 *    (422 UNSUPPORTED_INPUT_SHAPE);
 * 5. every layer's options (422 UNSUPPORTED_LAYER_CONFIG listing every problem);
 * 6. shapes, through the analyzer's own rules (400 SHAPE_MISMATCH naming the layer's JSON path).
 *
 * A layer marked `"trainable": false` (itself or through an enclosing model) keeps its weights but
 * counts them as non-trainable, as Keras' model.summary() does.
 *
 * Names are the Keras layer names, so Keras weights bind by name. The InputLayer becomes the graph
 * input (`input`); a Conv2D's fused activation becomes `<name>_activation` (see layers.ts).
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
import { flattenModel, type FlatModel, type Wired } from './flatten.js';
import { kerasClassLabel, Options, readerFor } from './layers.js';
import {
  isObject,
  readBatchShape,
  readGivenInput,
  readKerasTopology,
  type KerasTopology,
} from './topology.js';
import { defined, lookup } from '../../invariant.js';

export { SUPPORTED_KERAS_CLASSES } from './layers.js';

export interface ImportOptions {
  limits?: SpecLimits;
  /** The input size to analyse at, from the request or the CLI; required when the model states none. */
  input?: Shape3;
}

function parseIfText(json: unknown, field: string): unknown {
  if (typeof json !== 'string') return json;
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new InvalidModelConfigError(
      field,
      `${json.slice(0, 40)}…`,
      `JSON text (${(err as Error).message})`,
    );
  }
}

/** Every leaf's class must have a reader: all unknown classes, at every nesting depth, are listed at once. */
function checkClasses(flat: FlatModel): void {
  const unknown = new Map<string, string[]>();
  for (const { entry } of flat.wired) {
    if (readerFor(entry)) continue;
    const label = kerasClassLabel(entry);
    unknown.set(label, [...(unknown.get(label) ?? []), entry.name]);
  }
  if (unknown.size) throw unsupportedLayersError(unknown);
}

/** The input shape: the caller's (`input` beside the model, or --input), else the model's own. */
function inputShape(flat: FlatModel, given: Shape3 | undefined, limits: SpecLimits): Shape3 {
  if (given) return readGivenInput(given, limits);
  if (!flat.declared) {
    throw unsupportedInputShapeError(
      flat.shapeAt,
      undefined,
      'the input shape: the model states none, so give it beside the model ("input": [height, width, channels]) or with --input H,W,C',
    );
  }
  return readBatchShape(flat.declared.value, flat.declared.at, limits);
}

/** Keeps the config's order if it is an execution order; otherwise a stable topological sort. */
function executionOrder(wired: Wired[], layersAt: string): Wired[] {
  const available = new Set<string>([INPUT_NAME]);
  if (
    wired.every((w) => {
      const ok = w.inputs.every((i) => available.has(i));
      available.add(w.entry.name);
      return ok;
    })
  )
    return wired;

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
    const i = defined(ready.shift(), 'a ready layer');
    order.push(wired[i]);
    for (const r of readers.get(wired[i].entry.name) ?? []) if (--waiting[r] === 0) ready.push(r);
  }
  if (order.length !== wired.length) {
    const stuck = wired.filter((w) => !order.includes(w)).map((w) => w.entry.name);
    throw new InvalidModelConfigError(
      layersAt,
      stuck.slice(0, 20),
      'layers without a cycle in their inbound nodes',
    );
  }
  return order;
}

function buildGraph(
  topology: KerasTopology,
  top: Record<string, unknown>,
  prefix: string,
  options: Required<Pick<ImportOptions, 'limits'>> & ImportOptions,
): Graph {
  const limits = options.limits;
  const flat = flattenModel(topology, top, prefix, limits);
  checkClasses(flat);
  const input = inputShape(flat, options.input, limits);
  const ordered = executionOrder(flat.wired, `${prefix}config.layers`);
  const output = flat.output;
  if (output === INPUT_NAME)
    throw unsupportedModelError(
      `${prefix}config.output_layers`,
      output,
      'the model output is its input; there is nothing to analyse',
      'a layer after the input',
    );

  const kerasNames = new Set(ordered.map((w) => w.entry.name));

  /** Keras layer name → name of the graph node holding its output. */
  const tensorOf = new Map<string, string>([[INPUT_NAME, INPUT_NAME]]);
  const shapes = new Map<string, TensorShape | undefined>([[INPUT_NAME, input]]);
  const problems: ImportProblem[] = [];
  let shapeError: unknown;
  const nodes: GraphNode[] = [];
  const generated = new Set<string>();

  const modelsOf = new Map<string, string[]>();
  for (const { entry, inputs, call, frozen, models } of ordered) {
    const inputNames = inputs.map((i) => lookup(tensorOf, i, 'spec node'));
    const inputShapes = inputNames.map((n) => shapes.get(n));
    const drafts = defined(
      readerFor(entry),
      `a reader for ${entry.at}`,
    )({
      layer: entry,
      inputShapes,
      call,
      opts: new Options(entry, problems, flat.dialect),
    });
    let previous = inputNames;
    let known = inputShapes.every((s) => s !== undefined);
    for (const d of drafts) {
      const name = `${entry.name}${d.suffix}`;
      if (d.suffix) {
        if (kerasNames.has(name) || generated.has(name))
          throw nameConflictError(
            d.at,
            name,
            `is also the name the importer gives ${entry.name}'s fused activation`,
          );
        generated.add(name);
      }
      const node = {
        name,
        kind: d.kind,
        attrs: d.attrs,
        inputs: previous,
        blockPath: [],
        specPath: d.at,
        ...(frozen ? { trainable: false } : {}),
      } as GraphNode;
      if (models.length) modelsOf.set(name, models);
      nodes.push(node);
      if (nodes.length > limits.maxLayers)
        throw new SpecLimitError(
          entry.at,
          `more than ${limits.maxLayers} layers`,
          `at most ${limits.maxLayers} layers`,
        );
      let shape: TensorShape | undefined;
      if (known) {
        try {
          shape = shapeNode(
            node,
            previous.map((p) => defined(shapes.get(p), `${p}'s shape`)),
          ).outputShape;
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
  // Nested models enclose everything detected inside them.
  for (const node of nodes)
    node.blockPath = [...(modelsOf.get(node.name) ?? []), ...(blockPaths.get(node.name) ?? [])];
  for (const b of blocks)
    b.blockPath = [...(modelsOf.get(b.type === 'residual' ? b.addNode : b.concatNode) ?? []), ...b.blockPath];
  return { name: topology.name, input, nodes, output: lookup(tensorOf, output, 'spec node'), blocks };
}

/**
 * A Keras model config, as `model.to_json()` writes it (the JSON text or the parsed object), from
 * Keras 2 or Keras 3, Functional or Sequential. Throws AppError (400/413/422) naming what it cannot read.
 */
export function graphFromKerasConfig(json: unknown, options: ImportOptions = {}): Graph {
  return readConfig(parseIfText(json, 'model'), '', options);
}

function readConfig(json: unknown, prefix: string, options: ImportOptions): Graph {
  const limits = options.limits ?? DEFAULT_SPEC_LIMITS;
  const topology = readKerasTopology(json, prefix, limits);
  return buildGraph(topology, json as Record<string, unknown>, prefix, { ...options, limits });
}

/**
 * A TensorFlow.js layers-model `model.json` (tensorflowjs_converter or tfjs `model.save`): its
 * `modelTopology` is a Keras config, either bare ({class_name, config, keras_version, backend}) or
 * wrapped in `model_config`. A bare topology object is accepted too. Weights are not read here.
 */
export function graphFromTfjsModelJson(json: unknown, options: ImportOptions = {}): Graph {
  const doc = parseIfText(json, 'model.json');
  if (!isObject(doc))
    throw new InvalidModelConfigError('model.json', doc, 'a tfjs layers-model model.json object');
  if (doc.format !== undefined && doc.format !== 'layers-model') {
    throw new AppError(
      422,
      'UNSUPPORTED_MODEL',
      `format: ${JSON.stringify(doc.format)} models hold a TensorFlow graph, not Keras layers; only "layers-model" can be analysed`,
      { field: 'format', received: doc.format, expected: '"layers-model"' },
    );
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
  return readConfig(topology, prefix, options);
}

export type ModelFormat = 'tfjs-layers-model' | 'tfjs-graph-model' | 'keras-config' | 'unknown';

/**
 * What a submitted body is: a tfjs model.json (`format`, `modelTopology`, or a bare topology with
 * `model_config`), a raw Keras config (`class_name` + `config`), or neither.
 */
export function detectModelFormat(body: unknown): ModelFormat {
  if (!isObject(body)) return 'unknown';
  if (body.format === 'graph-model') return 'tfjs-graph-model';
  if (body.format === 'layers-model' || body.modelTopology !== undefined || body.model_config !== undefined)
    return 'tfjs-layers-model';
  if (typeof body.class_name === 'string' && body.config !== undefined) return 'keras-config';
  return 'unknown';
}
