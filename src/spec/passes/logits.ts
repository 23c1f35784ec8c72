/**
 * Logits instead of probabilities: the classifier's closing softmax, which engines leave out when
 * asked for logits (KServe's `logits` output; the service applies softmax itself), removed once
 * here for every engine. A softmax activation layer at the output is dropped; a dense layer's fused
 * softmax becomes linear.
 */
import { LINEAR } from '../activations.js';
import type { Graph, GraphNode } from '../graph.js';
import { replaceNodes, type Pass } from './graph-edit.js';

/** The node holding the output's softmax, if the graph ends in one. */
export function finalSoftmax(graph: Graph): GraphNode | undefined {
  const last = graph.nodes.find((n) => n.name === graph.output);
  if (!last) return undefined;
  if (last.kind === 'activation' && last.attrs.function === 'softmax') return last;
  if (last.kind === 'dense' && last.attrs.activation.function === 'softmax') return last;
  return undefined;
}

export const stripFinalSoftmax: Pass = (graph, weights) => {
  const last = finalSoftmax(graph);
  if (!last) return { graph, weights };
  if (last.kind === 'dense') {
    return replaceNodes(graph, weights, {
      replaced: new Map([[last.name, { ...last, attrs: { ...last.attrs, activation: LINEAR } }]]),
    });
  }
  return replaceNodes(graph, weights, {
    dropped: new Set([last.name]),
    renamed: new Map([[last.name, last.inputs[0]]]),
  });
};
