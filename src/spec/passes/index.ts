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
  /**
   * The bound weights' arrays belong to this build and nothing reads them afterwards (an inference
   * worker's freshly read file): folding scales the kernels where they are, and engines may
   * convert their layout in place, instead of writing fresh copies. On VMs where the first touch of
   * a page is slow, each fresh copy of ResNet-50's 100 MB costs about half a second of a model load.
   * Ignored when two weights share memory (each must be rewritten exactly once).
   */
  inPlace?: boolean;
}

/** Whether any two of the arrays overlap in memory (then none may be rewritten in place). */
export function shareMemory(arrays: ArrayBufferView[]): boolean {
  const spans = arrays
    .filter((a) => a.byteLength > 0)
    .map((a) => ({ buffer: a.buffer, start: a.byteOffset, end: a.byteOffset + a.byteLength }))
    .sort((a, b) => a.start - b.start);
  const lastEnd = new Map<ArrayBufferLike, number>();
  for (const s of spans) {
    if ((lastEnd.get(s.buffer) ?? -1) > s.start) return true;
    lastEnd.set(s.buffer, Math.max(lastEnd.get(s.buffer) ?? -1, s.end));
  }
  return false;
}

/** The graph and weights an engine builds for inference. */
export function prepareForInference(
  graph: Graph,
  weights: BoundWeight[],
  options: InferenceOptions = {},
): { graph: Graph; weights: BoundWeight[]; inPlace: boolean } {
  const inPlace = options.inPlace === true && !shareMemory(weights.map((w) => w.data));
  let out = { graph, weights };
  if (options.logits) out = stripFinalSoftmax(out.graph, out.weights);
  if (options.foldBatchNorm ?? true) out = foldBatchNorm(out.graph, out.weights, { inPlace });
  return { ...out, inPlace };
}
