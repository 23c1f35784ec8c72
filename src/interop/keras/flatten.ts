/**
 * A Keras model, nested or not, as one flat list of leaf layers wired by name. Models may hold
 * models as layers (Sequential or Functional inside Sequential or Functional, any depth: the
 * transfer-learning pattern `Sequential([ResNet50(include_top=False), GlobalAveragePooling2D(), …])`
 * and every Teachable Machine export). Nested layers keep their own names; a nested model's
 * InputLayer becomes whatever feeds the model, and the nested model's name stands for its output.
 *
 * `"trainable": false` on a model or a layer freezes it and everything inside it, as Keras does.
 */
import { SpecLimitError } from '../../errors.js';
import type { SpecLimits } from '../../spec/normalize.js';
import { INPUT_NAME } from '../../spec/types.js';
import { InvalidModelConfigError, nameConflictError, unsupportedModelError } from '../errors.js';
import {
  declaredBatchShape,
  isObject,
  readKerasTopology,
  type KerasCall,
  type KerasDialect,
  type KerasLayerEntry,
  type KerasTopology,
} from './topology.js';

/** A leaf layer with its producers resolved to leaf names (or INPUT_NAME). */
export interface Wired {
  entry: KerasLayerEntry;
  inputs: string[];
  /** The call it was wired from (Functional models), with any constants it was called with. */
  call?: KerasCall;
  /** Frozen by its own or an enclosing model's `"trainable": false`. */
  frozen: boolean;
  /** The nested models it sits in, outermost first (empty for the outermost model's own layers). */
  models: string[];
}

export interface FlatModel {
  name: string;
  dialect: KerasDialect;
  wired: Wired[];
  /** The outermost model's input shape as written (absent when it states none). */
  declared?: { value: unknown; at: string };
  /** Where the model states, or would state, its input shape. */
  shapeAt: string;
  /** The leaf whose output is the model's output. */
  output: string;
}

const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);
const MAX_NESTING = 16;

export const isModelClass = (className: string) => MODEL_CLASSES.has(className);

/**
 * A name as some model sees it. Keras names are unique within one model only (every nested
 * MobileNet has its `input_1`), so InputLayer and nested-model names resolve in their own model.
 */
interface Ref {
  scope: number;
  name: string;
}
/** What a name stands for: another name (in some scope), or the network input. */
type Target = Ref | 'input';

class Flattener {
  readonly wired: (Omit<Wired, 'inputs'> & { refs: Ref[] })[] = [];
  private readonly alias = new Map<string, Target>();
  /** Every leaf name, with where it was defined: leaves become graph nodes, so they must be unique. */
  private readonly leaves = new Map<string, string>();
  private scopes = 0;
  declared?: { value: unknown; at: string };

  constructor(private readonly limits: SpecLimits) {}

  /** The leaf (or the network input) a name stands for. */
  resolve(ref: Ref): string {
    let r: Target = ref;
    for (let hops = 0; r !== 'input'; hops++) {
      const next = this.alias.get(`${r.scope}:${r.name}`);
      if (next === undefined) return r.name;
      if (hops > this.alias.size)
        throw new InvalidModelConfigError(
          'config.layers',
          ref.name,
          'layers without a cycle in their inbound nodes',
        );
      r = next;
    }
    return INPUT_NAME;
  }

  private addAlias(scope: number, name: string, to: Target): void {
    this.alias.set(`${scope}:${name}`, to);
  }

  private addLeaf(w: Omit<Wired, 'inputs'> & { refs: Ref[] }): void {
    const before = this.leaves.get(w.entry.name);
    if (before)
      throw nameConflictError(
        `${w.entry.at}.name`,
        w.entry.name,
        `is used by two layers (also at ${before}); nested models must not repeat layer names`,
      );
    if (w.entry.name === INPUT_NAME)
      throw nameConflictError(
        `${w.entry.at}.name`,
        INPUT_NAME,
        'is reserved for the network input, and this layer is not the InputLayer',
      );
    this.leaves.set(w.entry.name, w.entry.at);
    if (this.wired.length >= this.limits.maxLayers)
      throw new SpecLimitError(
        w.entry.at,
        `more than ${this.limits.maxLayers} layers`,
        `at most ${this.limits.maxLayers} layers`,
      );
    this.wired.push(w);
  }

  /** Flattens one model fed by `input`; returns what stands for its output. */
  model(
    topology: KerasTopology,
    top: Record<string, unknown>,
    prefix: string,
    input: Target,
    frozen: boolean,
    models: string[],
  ): Ref {
    if (models.length > MAX_NESTING)
      throw new SpecLimitError(prefix || 'model', models.length, `models nested at most ${MAX_NESTING} deep`);
    const config = isObject(top.config) ? top.config : {};
    const isFrozen = frozen || config.trainable === false;
    const scope = this.scopes++;
    return topology.className === 'Sequential'
      ? this.sequential(topology, top, prefix, scope, input, isFrozen, models)
      : this.functional(topology, scope, input, isFrozen, models);
  }

  /** A model layer inside another: read its own config and flatten it in place. */
  private nested(entry: KerasLayerEntry, input: Target, frozen: boolean, models: string[]): Ref {
    const inner = readKerasTopology(entry.raw, `${entry.at}.`, this.limits);
    return this.model(inner, entry.raw, `${entry.at}.`, input, frozen || entry.config.trainable === false, [
      ...models,
      entry.name,
    ]);
  }

  private sequential(
    topology: KerasTopology,
    top: Record<string, unknown>,
    prefix: string,
    scope: number,
    input: Target,
    frozen: boolean,
    models: string[],
  ): Ref {
    const layers = topology.layers;
    if (layers.length === 0)
      throw new InvalidModelConfigError(`${prefix}config.layers`, [], 'at least one layer');
    let body = layers;
    let previous: Ref = { scope, name: '' };
    this.addAlias(scope, '', input); // what feeds the first layer
    if (layers[0].className === 'InputLayer') {
      this.addAlias(scope, layers[0].name, input);
      previous = { scope, name: layers[0].name };
      const declared = declaredBatchShape(layers[0].config);
      if (declared) this.declare(declared.value, `${layers[0].at}.config.${declared.key}`);
      body = layers.slice(1);
    }
    const stray = body.find((l) => l.className === 'InputLayer');
    if (stray)
      throw unsupportedModelError(
        stray.at,
        stray.name,
        `InputLayer ${stray.name} is not the first layer of the Sequential model`,
        'one InputLayer, first',
      );
    if (body.length === 0)
      throw new InvalidModelConfigError(
        `${prefix}config.layers`,
        layers.map((l) => l.name),
        'at least one layer after the InputLayer',
      );
    if (!this.declared) {
      const declared = declaredBatchShape(body[0].config);
      const config = isObject(top.config) ? top.config : {};
      const build = isObject(top.build_config) ? top.build_config.input_shape : undefined;
      if (declared) this.declare(declared.value, `${body[0].at}.config.${declared.key}`);
      else if (config.build_input_shape != null)
        this.declare(config.build_input_shape, `${prefix}config.build_input_shape`);
      else if (build != null) this.declare(build, `${prefix}build_config.input_shape`);
      else if (!isModelClass(body[0].className))
        this.declare(undefined, `${body[0].at}.config.batch_input_shape`);
    }
    for (const entry of body) {
      if (isModelClass(entry.className)) {
        this.addAlias(scope, entry.name, this.nested(entry, previous, frozen, models));
      } else {
        this.addLeaf({ entry, refs: [previous], frozen: frozen || entry.config.trainable === false, models });
      }
      previous = { scope, name: entry.name };
    }
    return previous;
  }

  private functional(
    topology: KerasTopology,
    scope: number,
    input: Target,
    frozen: boolean,
    models: string[],
  ): Ref {
    const byName = new Map(topology.layers.map((l) => [l.name, l]));
    const { inputRefs, outputRefs } = topology;
    if (inputRefs.refs.length !== 1) {
      throw unsupportedModelError(
        inputRefs.at,
        inputRefs.refs.map((r) => r.layer),
        `the model has ${inputRefs.refs.length} inputs (${inputRefs.refs.map((r) => r.layer).join(', ') || 'none'}); only single-input image models can be analysed`,
        'exactly one input',
      );
    }
    if (outputRefs.refs.length !== 1) {
      throw unsupportedModelError(
        outputRefs.at,
        outputRefs.refs.map((r) => r.layer),
        `the model has ${outputRefs.refs.length} outputs (${outputRefs.refs.map((r) => r.layer).join(', ') || 'none'}); only single-output models can be analysed`,
        'exactly one output',
      );
    }
    const inputName = inputRefs.refs[0].layer;
    const inputEntry = byName.get(inputName);
    if (!inputEntry)
      throw new InvalidModelConfigError(
        `${inputRefs.at}[0]`,
        inputName,
        'the name of a layer in config.layers',
      );
    if (inputEntry.className !== 'InputLayer')
      throw new InvalidModelConfigError(`${inputRefs.at}[0]`, inputName, 'the name of an InputLayer');
    const otherInputs = topology.layers.filter((l) => l.className === 'InputLayer' && l !== inputEntry);
    if (otherInputs.length) {
      throw unsupportedModelError(
        otherInputs[0].at,
        otherInputs.map((l) => l.name),
        `the model has more InputLayers than ${inputName} (${otherInputs.map((l) => l.name).join(', ')}); only single-input image models can be analysed`,
        'exactly one InputLayer',
      );
    }
    this.addAlias(scope, inputName, input);
    const declared = declaredBatchShape(inputEntry.config);
    if (declared) this.declare(declared.value, `${inputEntry.at}.config.${declared.key}`);
    else if (!this.declared) this.declare(undefined, `${inputEntry.at}.config.batch_input_shape`);

    const output = outputRefs.refs[0];
    if (!byName.has(output.layer))
      throw new InvalidModelConfigError(
        `${outputRefs.at}[0]`,
        output.layer,
        'the name of a layer in config.layers',
      );
    if (output.layer === inputName)
      throw unsupportedModelError(
        outputRefs.at,
        output.layer,
        'the model output is its input; there is nothing to analyse',
        'a layer after the input',
      );

    for (const entry of topology.layers) {
      if (entry === inputEntry) continue;
      if (entry.calls.length !== 1) {
        const why =
          entry.calls.length === 0
            ? `layer ${entry.name} is never called (it has no inbound nodes)`
            : `layer ${entry.name} is called ${entry.calls.length} times; shared layers are not supported (their weights would be counted once per call)`;
        throw unsupportedModelError(
          `${entry.at}.inbound_nodes`,
          entry.calls.length,
          why,
          'each layer called exactly once',
        );
      }
      const call = entry.calls[0];
      if (call.refs.length === 0)
        throw new InvalidModelConfigError(`${entry.at}.inbound_nodes[0]`, [], 'at least one input tensor');
      call.refs.forEach((ref, i) => {
        const at = `${entry.at}.inbound_nodes[0]`;
        if (!byName.has(ref.layer))
          throw new InvalidModelConfigError(
            at,
            ref.layer,
            `the name of a layer in the model (input ${i} of ${entry.name})`,
          );
        if (ref.node !== 0)
          throw unsupportedModelError(
            at,
            ref,
            `${entry.name} reads call ${ref.node} of ${ref.layer}; shared layers are not supported`,
            'node index 0',
          );
        if (ref.tensor !== 0)
          throw unsupportedModelError(
            at,
            ref,
            `${entry.name} reads output ${ref.tensor} of ${ref.layer}; every layer we read has one output`,
            'tensor index 0',
          );
      });
      const refs = call.refs.map((r) => ({ scope, name: r.layer }));
      if (isModelClass(entry.className)) {
        if (refs.length !== 1)
          throw unsupportedModelError(
            `${entry.at}.inbound_nodes[0]`,
            refs.length,
            `nested model ${entry.name} is called with ${refs.length} inputs`,
            'one input',
          );
        this.addAlias(scope, entry.name, this.nested(entry, refs[0], frozen, models));
      } else {
        this.addLeaf({ entry, refs, call, frozen: frozen || entry.config.trainable === false, models });
      }
    }
    return { scope, name: output.layer };
  }

  /** The outermost model's declared input shape wins; nested models' own declarations are ignored. */
  private declare(value: unknown, at: string): void {
    if (!this.declared) this.declared = { value, at };
  }
}

/** Flattens `topology` (read from `top` at `prefix`) into leaf layers wired by leaf name. */
export function flattenModel(
  topology: KerasTopology,
  top: Record<string, unknown>,
  prefix: string,
  limits: SpecLimits,
): FlatModel {
  const f = new Flattener(limits);
  const output = f.resolve(f.model(topology, top, prefix, 'input', false, []));
  const wired = f.wired.map(({ refs, ...w }) => ({ ...w, inputs: refs.map((r) => f.resolve(r)) }));
  const shapeAt = f.declared?.at ?? `${prefix}config.layers[0].config.batch_input_shape`;
  return {
    name: topology.name,
    dialect: topology.dialect,
    wired,
    declared: f.declared?.value === undefined ? undefined : f.declared,
    shapeAt,
    output,
  };
}
