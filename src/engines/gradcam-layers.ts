/**
 * Which layers Grad-CAM can explain: those whose output is spatial (height × width × channels).
 * The main thread validates `explainLayer` and sizes answers from this; the worker computes at the
 * same layers, so both read it from one place.
 */
import { inferShapes } from '../spec/shapes.js';
import type { Graph } from '../spec/types.js';

export interface SpatialLayer {
  name: string;
  height: number;
  width: number;
  channels: number;
}

/** The layers with a spatial output, in execution order (the input itself is not a layer). */
export function spatialLayers(graph: Graph): SpatialLayer[] {
  return inferShapes(graph).nodes.flatMap(({ node, outputShape }) =>
    outputShape.length === 3
      ? [{ name: node.name, height: outputShape[0], width: outputShape[1], channels: outputShape[2] }]
      : [],
  );
}

/**
 * The layer Grad-CAM explains by default: the last spatial one, which in a classifier is what global
 * pooling (or flatten) reads, the layer with the most semantic and still spatial features.
 */
export function defaultGradcamLayer(layers: readonly SpatialLayer[]): SpatialLayer | undefined {
  return layers.at(-1);
}
