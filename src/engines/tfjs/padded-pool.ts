/**
 * Pooling with explicit (PyTorch-style) padding and/or ceil mode, which tfjs' pooling ops lack:
 * max pooling pads with −∞ so padding never wins; average pooling divides by the number of counted
 * cells. Output sizes come from src/spec/geometry.ts, the rule the analyzer uses.
 */
import * as tf from '@tensorflow/tfjs-core';
import { outputLength, type Pads } from '../../spec/geometry.js';
import { firstMaxPool } from './first-max-pool.js';

export interface PaddedPoolConfig {
  mode: 'max' | 'avg';
  pool: [number, number];
  strides: [number, number];
  pads: Pads;
  ceilMode: boolean;
  countIncludePad: boolean;
  /** Max pooling's gradient goes to the first tied cell, as PyTorch's (./first-max-pool.ts). */
  firstMaxGradient?: boolean;
}

function poolGeometry(cfg: PaddedPoolConfig, h: number, w: number) {
  const { pool, strides, pads, ceilMode } = cfg;
  const oh = outputLength(h, pool[0], strides[0], 1, pads.top, pads.bottom, ceilMode);
  const ow = outputLength(w, pool[1], strides[1], 1, pads.left, pads.right, ceilMode);
  // Ceil mode may need windows that hang past the bottom/right padding: extend with cells that
  // never count (−∞ for max, excluded from the divisor for avg).
  const extraH = Math.max((oh - 1) * strides[0] + pool[0] - (h + pads.top + pads.bottom), 0);
  const extraW = Math.max((ow - 1) * strides[1] + pool[1] - (w + pads.left + pads.right), 0);
  return { oh, ow, extraH, extraW };
}

/** Pooling with explicit padding and/or ceil mode, as PyTorch computes it. */
export function paddedPool(x: tf.Tensor4D, cfg: PaddedPoolConfig): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const { pool, strides, pads, countIncludePad } = cfg;
    const { oh, ow, extraH, extraW } = poolGeometry(cfg, h, w);
    const padSpec: [number, number][] = [
      [0, 0],
      [pads.top, pads.bottom + extraH],
      [pads.left, pads.right + extraW],
      [0, 0],
    ];
    let y: tf.Tensor4D;
    if (cfg.mode === 'max') {
      const padded = tf.pad(x, padSpec, Number.NEGATIVE_INFINITY);
      y = cfg.firstMaxGradient
        ? firstMaxPool(padded, pool, strides)
        : tf.maxPool(padded, pool, strides, 'valid');
    } else {
      // Average = windowed sum of values / windowed count of cells that count.
      const sums = tf.avgPool(tf.pad(x, padSpec, 0), pool, strides, 'valid');
      const ones = tf.ones([1, h, w, 1]);
      const mask = countIncludePad
        ? tf.pad(
            tf.pad(
              ones,
              [
                [0, 0],
                [pads.top, pads.bottom],
                [pads.left, pads.right],
                [0, 0],
              ],
              1,
            ),
            [
              [0, 0],
              [0, extraH],
              [0, extraW],
              [0, 0],
            ],
            0,
          )
        : tf.pad(ones, padSpec, 0);
      const counts = tf.avgPool(mask as tf.Tensor4D, pool, strides, 'valid');
      y = tf.div(sums, counts);
    }
    return tf.slice(y, [0, 0, 0, 0], [-1, oh, ow, -1]);
  });
}
