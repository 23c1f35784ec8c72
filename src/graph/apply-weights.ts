/** Copies bound weights into a built tfjs model, layer by layer, in each layer's weight order. */
import * as tf from '@tensorflow/tfjs';
import type { BoundWeight } from '../weights/bind.js';

export function applyWeights(model: tf.LayersModel, bound: BoundWeight[]): void {
  const byLayer = new Map<string, BoundWeight[]>();
  for (const w of bound) byLayer.set(w.layer, [...(byLayer.get(w.layer) ?? []), w]);
  for (const [layerName, weights] of byLayer) {
    const layer = model.getLayer(layerName);
    // The rule table lists weights in tfjs' own order (kernel, bias; gamma, beta, mean, variance).
    const tensors = weights.map((w) => tf.tensor(w.data, w.shape, 'float32'));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}
