/**
 * How a batch of Grad-CAM requests travels to a worker and back as flat Float32Arrays, so the
 * generic batcher can queue it: each image is its pixels followed by the index of the layer to
 * explain (in spatialLayers order) and the class to explain (−1: the image's top class). Each
 * answer row is the class explained, then the map's cells, zero-padded to the largest layer's.
 */
import type { SpatialLayer } from './gradcam-layers.js';

/** Numbers after the pixels of each image: the layer index and the class. */
export const EXPLAIN_EXTRA = 2;

export function packExplainImage(
  pixels: Float32Array,
  layerIndex: number,
  classIndex: number | undefined,
): Float32Array {
  const out = new Float32Array(pixels.length + EXPLAIN_EXTRA);
  out.set(pixels);
  out[pixels.length] = layerIndex;
  out[pixels.length + 1] = classIndex ?? -1;
  return out;
}

export interface ExplainJob {
  /** The image's position in the batch. */
  index: number;
  pixels: Float32Array;
  layerIndex: number;
  classIndex: number | undefined;
}

export function unpackExplainBatch(input: Float32Array, n: number): ExplainJob[] {
  const stride = input.length / n;
  const pixels = stride - EXPLAIN_EXTRA;
  return Array.from({ length: n }, (_, index) => {
    const at = index * stride;
    const cls = input[at + pixels + 1];
    return {
      index,
      pixels: input.subarray(at, at + pixels),
      layerIndex: input[at + pixels],
      classIndex: cls < 0 ? undefined : cls,
    };
  });
}

/** Numbers per answer row: the class, then room for the largest layer's map. */
export function explainRowWidth(layers: readonly SpatialLayer[]): number {
  return 1 + Math.max(0, ...layers.map((l) => l.height * l.width));
}
