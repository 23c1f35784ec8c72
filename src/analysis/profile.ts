/**
 * Measured time per layer: an engine's per-run timings (keyed by the spec layer each measured node
 * ran for) grouped into rows of the spec's layers and set beside the layers' MACs.
 *
 * A row is what an engine runs as one unit: a conv with the batch norm folded into it and the
 * activation that follows it (both engines fuse them, so neither can time them apart), else a layer
 * on its own. Every spec layer is either in one row's `layers` or in `untimed` (no node of its own
 * was timed: nothing ran for it, like dropout or the softmax left out for logits, or the engine ran
 * it inside another layer's node, like ONNX Runtime's Conv + Add + Relu). Shares are of the sum of the
 * rows' medians, so they add up to 1 over the rows (including `unattributed`, the time of nodes the
 * engine added that belong to no layer, such as layout conversions).
 */
import { readersOf } from '../spec/passes/graph-edit.js';
import type { Graph, GraphNode, LeafKind } from '../spec/types.js';
import type { LayerRow } from './report-types.js';

/** The key of time that belongs to no spec layer. */
export const UNATTRIBUTED = 'unattributed';

/** What an engine measured: per run, milliseconds per spec layer (or UNATTRIBUTED). */
export interface LayerTimings {
  engine: string;
  /** How the figures were produced (engine profiler, or wall time around each layer's ops). */
  method: string;
  batch: number;
  /** Per measured run: spec layer name → ms. */
  runs: Record<string, number>[];
  /** Wall time of each whole run, ms. */
  runMs: number[];
  /** Engine nodes whose time went to UNATTRIBUTED, by the engine's own names. */
  unattributedNodes: string[];
}

export interface ProfileRow {
  /** The layer that owns the row (the conv of a conv + batch norm + activation), or `unattributed`. */
  layer: string;
  kind: LeafKind | typeof UNATTRIBUTED;
  /** The spec layers whose time is in this row, the owner first. */
  layers: string[];
  /** MACs of those layers for the batch. */
  macs: number;
  medianMs: number;
  /** medianMs over the sum of every row's medianMs. */
  share: number;
  /** 2·MACs / medianMs, in GFLOP/s (0 for layers without MACs). */
  gflops: number;
}

export interface ProfileReport {
  model: string;
  engine: string;
  method: string;
  runs: number;
  batch: number;
  /** Sum of the rows' medians: the denominator of every share. */
  totalMs: number;
  /** Median wall time of a whole run (includes what the engine does between nodes). */
  runMs: number;
  rows: ProfileRow[];
  /** Spec layers with no timed node of their own (not run, or run inside another layer's node). */
  untimed: string[];
  /** Engine nodes counted in the `unattributed` row. */
  unattributedNodes: string[];
}

const FUSES_ACTIVATION: ReadonlySet<LeafKind> = new Set<LeafKind>(['conv2d', 'dense']);

/**
 * The layer each spec layer's time belongs to: a batch norm that batch-norm folding merges into its
 * conv (the rule of src/spec/passes/fold-batchnorm.ts), and an activation that is the only reader
 * of a conv or dense (after folding) and not the output, belong to that conv or dense; every other
 * layer to itself.
 */
export function layerOwners(graph: Graph): Map<string, string> {
  const readers = readersOf(graph);
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const owners = new Map<string, string>();
  const onlyReader = (name: string, node: GraphNode) => {
    const r = readers.get(name) ?? [];
    return r.length === 1 && r[0] === node && name !== graph.output;
  };
  for (const node of graph.nodes) {
    owners.set(node.name, node.name);
    if (node.inputs.length !== 1) continue;
    const [x] = node.inputs;
    const producer = byName.get(owners.get(x) ?? x);
    if (!producer || !onlyReader(x, node)) continue;
    if (node.kind === 'batchnorm' && producer.kind === 'conv2d' && x === producer.name)
      owners.set(node.name, producer.name);
    // The output's own activation stays apart: it is the softmax engines leave out for logits.
    else if (node.kind === 'activation' && node.name !== graph.output && FUSES_ACTIVATION.has(producer.kind))
      owners.set(node.name, producer.name);
  }
  return owners;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Rows in the spec's order (then `unattributed`), from the timings and the analysis rows of `graph`. */
export function profileReport(graph: Graph, layers: LayerRow[], timings: LayerTimings): ProfileReport {
  const owners = layerOwners(graph);
  const kinds = new Map(graph.nodes.map((n) => [n.name, n.kind]));
  const macs = new Map(layers.map((r) => [r.name, r.macs]));
  const perRun = timings.runs.map((run) => {
    const byOwner = new Map<string, number>();
    for (const [layer, ms] of Object.entries(run)) {
      const owner = layer === UNATTRIBUTED ? UNATTRIBUTED : owners.get(layer);
      if (owner === undefined)
        throw new Error(`timings name ${layer}, which is not a layer of ${graph.name}`);
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms);
    }
    return byOwner;
  });
  const measured = new Set(perRun.flatMap((run) => [...run.keys()]));
  const members = new Map<string, string[]>();
  for (const node of graph.nodes) {
    const owner = owners.get(node.name) ?? node.name;
    members.set(owner, [...(members.get(owner) ?? []), node.name]);
  }
  const order = [...members.keys()].filter((owner) => measured.has(owner));
  if (measured.has(UNATTRIBUTED)) order.push(UNATTRIBUTED);
  const medians = order.map((owner) => median(perRun.map((run) => run.get(owner) ?? 0)));
  const totalMs = medians.reduce((a, b) => a + b, 0);
  const rows = order.map((owner, i): ProfileRow => {
    const held = owner === UNATTRIBUTED ? [] : (members.get(owner) ?? []);
    const rowMacs = held.reduce((s, name) => s + (macs.get(name) ?? 0), 0) * timings.batch;
    return {
      layer: owner,
      kind: owner === UNATTRIBUTED ? UNATTRIBUTED : (kinds.get(owner) as LeafKind),
      layers: held,
      macs: rowMacs,
      medianMs: medians[i],
      share: totalMs > 0 ? medians[i] / totalMs : 0,
      gflops: medians[i] > 0 ? (2 * rowMacs) / (medians[i] * 1e6) : 0,
    };
  });
  return {
    model: graph.name,
    engine: timings.engine,
    method: timings.method,
    runs: timings.runs.length,
    batch: timings.batch,
    totalMs,
    runMs: median(timings.runMs),
    rows,
    untimed: [...members.entries()].filter(([owner]) => !measured.has(owner)).flatMap(([, names]) => names),
    unattributedNodes: timings.unattributedNodes,
  };
}
