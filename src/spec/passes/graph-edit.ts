/**
 * What graph passes share: the pass signature and a rewrite that replaces, drops and renames nodes
 * and their weights while keeping the execution order. Passes return new objects; their input is
 * never changed.
 */
import type { BoundWeight, Graph, GraphNode } from '../graph.js';
import { lookup } from '../../invariant.js';

/** A rewrite of a graph and its bound weights into an equivalent pair. */
export type Pass = (graph: Graph, weights: BoundWeight[]) => { graph: Graph; weights: BoundWeight[] };

export function readersOf(graph: Graph): Map<string, GraphNode[]> {
  const map = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) for (const i of new Set(n.inputs)) map.set(i, [...(map.get(i) ?? []), n]);
  return map;
}

export interface Edit {
  /** Nodes replaced by a new version of themselves (same name). */
  replaced?: Map<string, GraphNode>;
  /** A replaced node's complete new weight list. */
  replacedWeights?: Map<string, BoundWeight[]>;
  /** Dropped nodes whose readers now read another value. */
  renamed?: Map<string, string>;
  dropped?: Set<string>;
}

export function replaceNodes(
  graph: Graph,
  weights: BoundWeight[],
  edit: Edit,
): { graph: Graph; weights: BoundWeight[] } {
  const renamed = edit.renamed ?? new Map<string, string>();
  const dropped = edit.dropped ?? new Set<string>();
  const resolve = (name: string) => {
    let n = name;
    for (let hops = 0; renamed.has(n) && hops <= renamed.size; hops++) n = lookup(renamed, n, 'renamed node');
    return n;
  };
  const nodes = graph.nodes
    .filter((n) => !dropped.has(n.name))
    .map((n) => {
      const node = edit.replaced?.get(n.name) ?? n;
      return { ...node, inputs: node.inputs.map(resolve) } as GraphNode;
    });
  const newWeights = weights
    .filter((w) => !dropped.has(w.layer) && !edit.replacedWeights?.has(w.layer))
    .concat([...(edit.replacedWeights?.values() ?? [])].flat());
  return { graph: { ...graph, nodes, output: resolve(graph.output) }, weights: newWeights };
}
