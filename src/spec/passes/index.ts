/**
 * The inference rewrites, in the order engines apply them. Each is a Pass over (graph, weights);
 * an engine asks for the ones it wants and builds from the result.
 */
import type { BoundWeight, Graph } from '../graph.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { stripFinalSoftmax } from './logits.js';

export { foldBatchNorm } from './fold-batchnorm.js';
export { finalSoftmax, stripFinalSoftmax } from './logits.js';
export type { Pass } from './graph-edit.js';

export interface InferenceOptions {
  /** Leave out the output's softmax (default false). */
  logits?: boolean;
  /** Fold batch norms into the convs before them (default true). */
  foldBatchNorm?: boolean;
}

/** The graph and weights an engine builds for inference. */
export function prepareForInference(
  graph: Graph,
  weights: BoundWeight[],
  options: InferenceOptions = {},
): { graph: Graph; weights: BoundWeight[] } {
  let out = { graph, weights };
  if (options.logits) out = stripFinalSoftmax(out.graph, out.weights);
  if (options.foldBatchNorm ?? true) out = foldBatchNorm(out.graph, out.weights);
  return out;
}
