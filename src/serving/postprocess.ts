/** Logits → probabilities → the top k labels. */
import { AppError } from '../errors.js';

export interface Prediction {
  label: string;
  index: number;
  probability: number;
}

/** Numerically stable softmax (subtracts the max before exponentiating). */
export function softmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

export function topK(probabilities: Float32Array, labels: string[], k: number): Prediction[] {
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order
    .slice(0, Math.min(k, order.length))
    .map((index) => ({ label: labels[index] ?? String(index), index, probability: probabilities[index] }));
}

/** A model driven out of float32 range by its input gives NaN or ∞: say so instead of sending them. */
export function assertFinite(logits: Float32Array[], model: string): void {
  if (logits.some((row) => row.some((v) => !Number.isFinite(v)))) {
    throw new AppError(
      422,
      'NON_FINITE_OUTPUT',
      `model ${model} produced non-finite outputs for this input (values too large for float32?)`,
      { model },
    );
  }
}
