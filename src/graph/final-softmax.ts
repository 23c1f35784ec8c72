/**
 * The classifier's closing softmax, which engines leave out when asked for logits (KServe's
 * `logits` output; the service applies softmax itself). Shared by every graph builder.
 */
import type { Graph, GraphNode } from '../spec/types.js';

export function finalSoftmax(graph: Graph): GraphNode | undefined {
  const last = graph.nodes.find((n) => n.name === graph.output);
  if (!last) return undefined;
  if (last.kind === 'activation' && last.attrs.function === 'softmax') return last;
  if (last.kind === 'dense' && last.attrs.activation === 'softmax') return last;
  return undefined;
}
