/**
 * Spatial arithmetic shared by the analyzer and every graph builder, so that they cannot disagree
 * on how a padding mode or ceil mode turns into pixels.
 */
import type { Pair, Padding } from './basics.js';

export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

/** Kernel extent once dilated: (k − 1)·d + 1. */
export function effectiveKernel(k: number, d: number): number {
  return (k - 1) * d + 1;
}

/**
 * TensorFlow's SAME padding: the output is ceil(in / stride); the total padding needed for that is
 * split with the smaller half first, so an odd total puts the extra pixel at the bottom/right.
 * (PyTorch pads symmetrically; torchvision-layout specs therefore use explicit padding.)
 */
function samePads(size: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + effectiveKernel(k, d) - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Resolves a padding mode into per-side pixels for a given input size and window. */
export function resolvePads(
  padding: Padding,
  inHW: Pair,
  kernel: Pair,
  strides: Pair,
  dilation: Pair = [1, 1],
): Pads {
  switch (padding.mode) {
    case 'valid':
      return { top: 0, bottom: 0, left: 0, right: 0 };
    case 'explicit':
      return { top: padding.top, bottom: padding.bottom, left: padding.left, right: padding.right };
    case 'same': {
      const [top, bottom] = samePads(inHW[0], kernel[0], strides[0], dilation[0]);
      const [left, right] = samePads(inHW[1], kernel[1], strides[1], dilation[1]);
      return { top, bottom, left, right };
    }
  }
}

/**
 * Output length along one axis. Floor mode: ⌊(in + pads − k_eff) / s⌋ + 1. Ceil mode (PyTorch pools):
 * ⌈(in + pads − k_eff) / s⌉ + 1, minus one if the last window would start in the trailing padding.
 * Returns 0 or less when the window does not fit.
 */
export function outputLength(
  size: number,
  k: number,
  s: number,
  d: number,
  padBefore: number,
  padAfter: number,
  ceilMode = false,
): number {
  const span = size + padBefore + padAfter - effectiveKernel(k, d);
  if (span < 0) return 0;
  if (!ceilMode) return Math.floor(span / s) + 1;
  let out = Math.ceil(span / s) + 1;
  if ((out - 1) * s >= size + padBefore) out -= 1;
  return out;
}
