/**
 * Authoring spec → graph. Expands composites (sequence, residual, branches, repeat) into named
 * leaf layers with explicit inputs, generates the names a user omitted, and records block
 * membership for the rollup reports. Shapes are checked later, by the shape pass.
 */
import { SpecError, SpecLimitError } from '../errors.js';
import { COMPOSITE_KINDS, type ArchitectureSpec } from './authoring.js';
import { INPUT_NAME, type Shape3 } from './basics.js';
import type { BlockInfo, BranchMerge, Graph, GraphNode } from './graph.js';
import {
  AUTHORED_LEAF_KINDS,
  isAuthoredKind,
  kindOf,
  kindsWhere,
  type LeafAttrsByKind,
  type LeafKind,
} from './kinds/index.js';
import { positiveInt } from './kinds/read.js';
import { defined } from '../invariant.js';

export interface SpecLimits {
  /** Leaf layers after expanding repeats. */
  maxLayers: number;
  /** Largest input side in pixels. */
  maxInputSide: number;
  /** Composite nesting depth. */
  maxDepth: number;
}

export const DEFAULT_SPEC_LIMITS: SpecLimits = { maxLayers: 20_000, maxInputSide: 8192, maxDepth: 64 };

/** Kinds whose weights mix channels: a shortcut holding one is a projection. */
const MIXES_CHANNELS = kindsWhere('mixesChannels');

const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;

/** Names generated inside a named composite start with its name; counters are per scope and stem. */
class Scope {
  private readonly counters = new Map<string, number>();
  constructor(
    readonly prefix: string | null,
    /** Inside a repeat copy, explicit names are relative to the copy, so copies stay distinct. */
    readonly qualifyExplicit: boolean,
  ) {}

  generate(stem: string, taken: Set<string>): string {
    const base = this.prefix ? `${this.prefix}_${stem}` : stem;
    for (;;) {
      const n = this.counters.get(stem) ?? 0;
      this.counters.set(stem, n + 1);
      const candidate = n === 0 ? base : `${base}_${n}`;
      if (!taken.has(candidate)) return candidate;
    }
  }

  resolve(explicit: string): string {
    return this.qualifyExplicit && this.prefix ? `${this.prefix}_${explicit}` : explicit;
  }
}

interface Context {
  scope: Scope;
  blockPath: string[];
  depth: number;
}

class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly blocks: BlockInfo[] = [];
  private readonly taken = new Set<string>([INPUT_NAME]);
  /** Guards against specs that expand forever without emitting layers (nested empty repeats). */
  private visits = 0;

  constructor(readonly limits: SpecLimits) {}

  visit(at: string): void {
    if (++this.visits > this.limits.maxLayers * 4) {
      throw new SpecLimitError(
        at,
        this.visits,
        `a spec that expands to at most ${this.limits.maxLayers} layers`,
      );
    }
  }

  name(explicit: unknown, stem: string, ctx: Context, at: string, field = 'name'): string {
    let name: string;
    if (explicit === undefined) {
      name = ctx.scope.generate(stem, this.taken);
    } else {
      if (typeof explicit !== 'string' || !NAME_PATTERN.test(explicit)) {
        throw new SpecError(
          `${at}.${field}`,
          explicit,
          'a name of letters, digits, "_", "." or "-" starting with a letter or "_" (at most 200 characters)',
        );
      }
      name = ctx.scope.resolve(explicit);
    }
    if (this.taken.has(name)) {
      throw new SpecError(`${at}.${field}`, name, 'a name not used by any other layer or block');
    }
    this.taken.add(name);
    return name;
  }

  /** Registers a name derived from an already-resolved one (e.g. `<block>_add`), without re-qualifying it. */
  derived(name: string, at: string, field: string): string {
    if (this.taken.has(name))
      throw new SpecError(`${at}.${field}`, name, 'a name not used by any other layer or block');
    this.taken.add(name);
    return name;
  }

  emit<K extends LeafKind>(
    kind: K,
    attrs: LeafAttrsByKind[K],
    inputs: string[],
    name: string,
    ctx: Context,
    at: string,
  ): string {
    if (this.nodes.length >= this.limits.maxLayers) {
      throw new SpecLimitError(
        at,
        `more than ${this.limits.maxLayers} layers`,
        `at most ${this.limits.maxLayers} layers`,
      );
    }
    this.nodes.push({ name, kind, attrs, inputs, blockPath: ctx.blockPath, specPath: at } as GraphNode);
    return name;
  }

  namesSince(start: number): string[] {
    return this.nodes.slice(start).map((n) => n.name);
  }
}

function expectArray(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw new SpecError(at, value, 'an array of layers');
  return value;
}

function expectObject(value: unknown, at: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SpecError(at, value, 'a layer object with a "kind"');
  }
  return value as Record<string, unknown>;
}

function walkSequence(b: GraphBuilder, layers: unknown, input: string, ctx: Context, at: string): string {
  let current = input;
  expectArray(layers, at).forEach((layer, i) => {
    current = walkNode(b, layer, current, ctx, `${at}[${i}]`);
  });
  return current;
}

function child(ctx: Context, name: string, at: string, limits: SpecLimits): Context {
  if (ctx.depth + 1 > limits.maxDepth) {
    throw new SpecLimitError(at, ctx.depth + 1, `composites nested at most ${limits.maxDepth} deep`);
  }
  return {
    scope: new Scope(name, ctx.scope.qualifyExplicit),
    blockPath: [...ctx.blockPath, name],
    depth: ctx.depth + 1,
  };
}

function walkNode(b: GraphBuilder, raw: unknown, input: string, ctx: Context, at: string): string {
  b.visit(at);
  const spec = expectObject(raw, at);
  const kind = spec.kind;
  if (isAuthoredKind(kind)) {
    const def = kindOf(kind);
    const attrs = defined(def.authoring, `${kind}'s authoring reader`).read(spec, at);
    const name = b.name(spec.name, def.stem, ctx, at);
    return b.emit(kind, attrs, [input], name, ctx, at);
  }
  const limits = b.limits;
  switch (kind) {
    case 'sequence': {
      if (spec.name === undefined) {
        if (ctx.depth + 1 > limits.maxDepth)
          throw new SpecLimitError(at, ctx.depth + 1, `composites nested at most ${limits.maxDepth} deep`);
        return walkSequence(b, spec.layers, input, { ...ctx, depth: ctx.depth + 1 }, `${at}.layers`);
      }
      const name = b.name(spec.name, 'sequence', ctx, at);
      return walkSequence(b, spec.layers, input, child(ctx, name, at, limits), `${at}.layers`);
    }
    case 'repeat': {
      const count = positiveInt(spec.count, `${at}.count`, 10_000);
      const name = b.name(spec.name, 'repeat', ctx, at);
      const inner = child(ctx, name, at, limits);
      let current = input;
      for (let i = 1; i <= count; i++) {
        // Each copy counts as a visit, so empty or nested repeats cannot loop without bound.
        b.visit(at);
        const copyName = b.derived(`${name}_${i}`, at, 'name');
        const copy: Context = {
          scope: new Scope(copyName, true),
          blockPath: [...inner.blockPath, copyName],
          depth: inner.depth + 1,
        };
        current = walkSequence(b, spec.layers, current, copy, `${at}.layers`);
      }
      return current;
    }
    case 'residual':
      return walkResidual(b, spec, input, ctx, at, limits);
    case 'branches':
      return walkBranches(b, spec, input, ctx, at, limits);
    default:
      throw new SpecError(
        `${at}.kind`,
        kind,
        `one of ${[...AUTHORED_LEAF_KINDS, ...COMPOSITE_KINDS].join(', ')}`,
        'UNKNOWN_LAYER_KIND',
      );
  }
}

function walkResidual(
  b: GraphBuilder,
  spec: Record<string, unknown>,
  input: string,
  ctx: Context,
  at: string,
  limits: SpecLimits,
): string {
  const name = b.name(spec.name, 'residual', ctx, at);
  const inner = child(ctx, name, at, limits);
  const start = b.nodes.length;
  const preOut =
    spec.preact === undefined ? input : walkSequence(b, spec.preact, input, inner, `${at}.preact`);
  if (spec.body === undefined) throw new SpecError(`${at}.body`, undefined, 'an array of layers');
  const bodyOut = walkSequence(b, spec.body, preOut, inner, `${at}.body`);

  let shortcutOut = input;
  let shortcutNodes: string[] = [];
  let shortcutKind: 'identity' | 'projection' | 'pooling' = 'identity';
  if (spec.shortcut !== undefined && spec.shortcut !== 'identity') {
    const sc = expectObject(spec.shortcut, `${at}.shortcut`);
    if (sc.from !== undefined && sc.from !== 'input' && sc.from !== 'preact') {
      throw new SpecError(`${at}.shortcut.from`, sc.from, '"input" or "preact"');
    }
    const from = sc.from === 'preact' ? preOut : input;
    const scStart = b.nodes.length;
    shortcutOut = walkSequence(b, sc.layers, from, inner, `${at}.shortcut.layers`);
    shortcutNodes = b.namesSince(scStart);
    const projects = b.nodes.slice(scStart).some((n) => MIXES_CHANNELS.has(n.kind));
    shortcutKind = projects ? 'projection' : shortcutNodes.length ? 'pooling' : 'identity';
  }

  let scale = 1;
  if (spec.scale !== undefined) {
    if (typeof spec.scale !== 'number' || !Number.isFinite(spec.scale)) {
      throw new SpecError(`${at}.scale`, spec.scale, 'a finite number');
    }
    scale = spec.scale;
  }
  // The add may carry the block's own name (Keras names Inception-ResNet's scaled add after its block).
  let addName: string;
  if (spec.addName === undefined) addName = b.derived(`${name}_add`, at, 'addName');
  else if (typeof spec.addName === 'string' && ctx.scope.resolve(spec.addName) === name) addName = name;
  else addName = b.name(spec.addName, 'add', ctx, at, 'addName');
  const addOut = b.emit('add', { scale }, [shortcutOut, bodyOut], addName, inner, at);
  const out = spec.post === undefined ? addOut : walkSequence(b, spec.post, addOut, inner, `${at}.post`);
  b.blocks.push({
    type: 'residual',
    name,
    blockPath: ctx.blockPath,
    nodes: b.namesSince(start),
    shortcut: shortcutKind,
    shortcutNodes,
    addNode: addName,
    preactivation: spec.preact !== undefined,
  });
  return out;
}

function walkBranches(
  b: GraphBuilder,
  spec: Record<string, unknown>,
  input: string,
  ctx: Context,
  at: string,
  limits: SpecLimits,
): string {
  const name = b.name(spec.name, 'branches', ctx, at);
  const inner = child(ctx, name, at, limits);
  const start = b.nodes.length;
  const list = expectArray(spec.branches, `${at}.branches`);
  if (list.length < 1) throw new SpecError(`${at}.branches`, list, 'at least one branch');
  const outputs: string[] = [];
  const branches: { name: string; nodes: string[] }[] = [];
  list.forEach((raw, i) => {
    const bat = `${at}.branches[${i}]`;
    const branch = expectObject(raw, bat);
    const branchName =
      branch.name === undefined
        ? b.derived(`${name}_branch${i + 1}`, bat, 'name')
        : b.name(branch.name, 'branch', ctx, bat);
    const branchCtx = child(inner, branchName, bat, limits);
    const bStart = b.nodes.length;
    outputs.push(walkSequence(b, branch.layers, input, branchCtx, `${bat}.layers`));
    branches.push({ name: branchName, nodes: b.namesSince(bStart) });
  });
  // The module's name is the merge's name, as Keras names inception outputs (mixed0, mixed1…).
  const merge = readMerge(spec.merge, `${at}.merge`);
  if (merge === 'concat') b.emit('concat', {}, outputs, name, inner, at);
  else if (merge === 'add') b.emit('add', { scale: 1 }, outputs, name, inner, at);
  else b.emit('multiply', {}, outputs, name, inner, at);
  b.blocks.push({
    type: 'branches',
    name,
    blockPath: ctx.blockPath,
    nodes: b.namesSince(start),
    branches,
    concatNode: name,
    merge,
  });
  return name;
}

function readMerge(value: unknown, at: string): BranchMerge {
  if (value === undefined) return 'concat';
  if (value === 'concat' || value === 'add' || value === 'multiply') return value;
  throw new SpecError(at, value, '"concat", "add" or "multiply"');
}

function readInput(value: unknown, limits: SpecLimits): Shape3 {
  if (!Array.isArray(value) || value.length !== 3) {
    throw new SpecError('input', value, '[height, width, channels]');
  }
  return [
    positiveInt(value[0], 'input[0]', limits.maxInputSide),
    positiveInt(value[1], 'input[1]', limits.maxInputSide),
    positiveInt(value[2], 'input[2]', 65_536),
  ];
}

/** Expands an authoring spec into the graph every interpreter walks. Throws SpecError on bad input. */
export function normalizeSpec(
  raw: ArchitectureSpec | unknown,
  limits: SpecLimits = DEFAULT_SPEC_LIMITS,
): Graph {
  const spec = expectObject(raw, 'spec');
  const input = readInput(spec.input, limits);
  const b = new GraphBuilder(limits);
  const root: Context = { scope: new Scope(null, false), blockPath: [], depth: 0 };
  const layers = expectArray(spec.layers, 'layers');
  if (layers.length === 0) throw new SpecError('layers', layers, 'at least one layer');
  const output = walkSequence(b, layers, INPUT_NAME, root, 'layers');
  if (b.nodes.length === 0)
    throw new SpecError('layers', layers, 'at least one layer once composites are expanded');
  let name = 'custom';
  if (spec.name !== undefined) {
    if (typeof spec.name !== 'string' || spec.name.length > 200)
      throw new SpecError('name', spec.name, 'a string of at most 200 characters');
    name = spec.name;
  }
  return { name, input, nodes: b.nodes, output, blocks: b.blocks };
}
