/**
 * The two operations tfjs-layers lacks, as registered custom layers:
 * - PaddedPool2D: pooling with explicit (PyTorch-style) padding and/or ceil mode. Max pooling pads
 *   with −∞ so padding never wins; average pooling divides by the number of counted cells.
 * - ScaledAdd: x + scale·y, Inception-ResNet's residual (Keras' CustomScaleLayer).
 * Output sizes come from src/analysis/geometry.ts, the rule the analyzer uses.
 */
import * as tf from '@tensorflow/tfjs';
import { outputLength, type Pads } from '../analysis/geometry.js';

export interface PaddedPoolConfig {
  name: string;
  mode: 'max' | 'avg';
  pool: [number, number];
  strides: [number, number];
  pads: Pads;
  ceilMode: boolean;
  countIncludePad: boolean;
}

function poolGeometry(cfg: Omit<PaddedPoolConfig, 'name'>, h: number, w: number) {
  const { pool, strides, pads, ceilMode } = cfg;
  const oh = outputLength(h, pool[0], strides[0], 1, pads.top, pads.bottom, ceilMode);
  const ow = outputLength(w, pool[1], strides[1], 1, pads.left, pads.right, ceilMode);
  // Ceil mode may need windows that hang past the bottom/right padding: extend with cells that
  // never count (−∞ for max, excluded from the divisor for avg).
  const extraH = Math.max((oh - 1) * strides[0] + pool[0] - (h + pads.top + pads.bottom), 0);
  const extraW = Math.max((ow - 1) * strides[1] + pool[1] - (w + pads.left + pads.right), 0);
  return { oh, ow, extraH, extraW };
}

/** Pooling with explicit padding and/or ceil mode, as PyTorch computes it (used by layer and op executors). */
export function paddedPool(x: tf.Tensor4D, cfg: Omit<PaddedPoolConfig, 'name'>): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const { pool, strides, pads, countIncludePad } = cfg;
    const { oh, ow, extraH, extraW } = poolGeometry(cfg, h, w);
    const padSpec: [number, number][] = [[0, 0], [pads.top, pads.bottom + extraH], [pads.left, pads.right + extraW], [0, 0]];
    let y: tf.Tensor4D;
    if (cfg.mode === 'max') {
      y = tf.maxPool(tf.pad(x, padSpec, Number.NEGATIVE_INFINITY), pool, strides, 'valid');
    } else {
      // Average = windowed sum of values / windowed count of cells that count.
      const sums = tf.avgPool(tf.pad(x, padSpec, 0), pool, strides, 'valid');
      const ones = tf.ones([1, h, w, 1]);
      const mask = countIncludePad
        ? tf.pad(tf.pad(ones, [[0, 0], [pads.top, pads.bottom], [pads.left, pads.right], [0, 0]], 1), [[0, 0], [0, extraH], [0, extraW], [0, 0]], 0)
        : tf.pad(ones, padSpec, 0);
      const counts = tf.avgPool(mask as tf.Tensor4D, pool, strides, 'valid');
      y = tf.div(sums, counts);
    }
    return y.slice([0, 0, 0, 0], [-1, oh, ow, -1]);
  });
}

export class PaddedPool2D extends tf.layers.Layer {
  static className = 'PaddedPool2D';
  private readonly cfg: PaddedPoolConfig;

  constructor(config: PaddedPoolConfig) {
    super({ name: config.name });
    this.cfg = { ...config };
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = inputShape as tf.Shape;
    const { oh, ow } = poolGeometry(this.cfg, s[1] as number, s[2] as number);
    return [s[0], oh, ow, s[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return paddedPool((Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D, this.cfg);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.cfg as unknown as tf.serialization.ConfigDict) };
  }
}

export class ScaledAdd extends tf.layers.Layer {
  static className = 'ScaledAdd';
  constructor(private readonly config: { name: string; scale: number }) {
    super({ name: config.name });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (inputShape as tf.Shape[])[0];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const [x, y] = inputs as tf.Tensor[];
    return tf.tidy(() => tf.add(x, tf.mul(y, this.config.scale)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.config.scale };
  }
}

tf.serialization.registerClass(PaddedPool2D);
tf.serialization.registerClass(ScaledAdd);
