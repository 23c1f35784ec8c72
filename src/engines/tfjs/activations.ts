/**
 * Every activation function as TensorFlow.js ops, one entry per function (src/spec/activations.ts
 * defines them). Only ops the wasm backend has are used (Erf, Elu, LeakyRelu, Relu6, …).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Activation, ActivationFn } from '../../spec/types.js';

type Apply<F extends ActivationFn> = (x: tf.Tensor, a: Extract<Activation, { function: F }>) => tf.Tensor;

const SQRT1_2 = Math.SQRT1_2;
const GELU_TANH = Math.sqrt(2 / Math.PI);

const TFJS_ACTIVATIONS: { [F in ActivationFn]: Apply<F> } = {
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  sigmoid: (x) => tf.sigmoid(x),
  tanh: (x) => tf.tanh(x),
  softmax: (x) => tf.softmax(x, -1),
  linear: (x) => x,
  silu: (x) => tf.mul(x, tf.sigmoid(x)),
  hard_sigmoid: (x, a) => tf.clipByValue(tf.add(tf.mul(x, a.alpha), a.beta), 0, 1),
  hard_swish: (x) => tf.mul(x, tf.div(tf.relu6(tf.add(x, 3)), 6)),
  gelu: (x, a) =>
    a.approximate
      ? tf.mul(
          tf.mul(x, 0.5),
          tf.add(1, tf.tanh(tf.mul(GELU_TANH, tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))),
        )
      : tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2)))),
  leaky_relu: (x, a) => tf.leakyRelu(x, a.alpha),
  elu: (x, a) =>
    a.alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(a.alpha, tf.sub(tf.exp(x), 1))),
  clip: (x, a) => tf.clipByValue(x, a.min, a.max),
};

export function applyActivation(x: tf.Tensor, a: Activation): tf.Tensor {
  return (TFJS_ACTIVATIONS[a.function] as Apply<ActivationFn>)(x, a as never);
}

/** Functions tf.fused ops compute inside the conv or matmul kernel. */
export type FusedActivation = 'relu' | 'relu6' | 'sigmoid' | 'linear';
export function fusable(a: Activation): FusedActivation | undefined {
  return a.function === 'relu' ||
    a.function === 'relu6' ||
    a.function === 'sigmoid' ||
    a.function === 'linear'
    ? a.function
    : undefined;
}
