// Max pooling's gradient with ties, as PyTorch computes it: each window's gradient goes to the first
// cell (row-major) holding its maximum. tfjs' own gives wasm's ties to the last cell. The expected
// gradients are PyTorch 1.13's for the same input (F.max_pool2d(x, k, s, p).sum().backward()).
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { firstMaxPool } from '../../../src/engines/tfjs/first-max-pool.js';
import { backendReady } from '../../helpers/engine.js';

await backendReady();

// Ties: 3 and 3 in the top row, 4 and 4 in the third row.
const X = [1, 3, 3, 0, 2, 0, 1, 5, 4, 4, 0, 0, 1, 1, 2, 2];
const PAD_1: [number, number][] = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

const gradient = (pool: (x: tf.Tensor4D) => tf.Tensor) =>
  Array.from(
    tf
      .grad((x: tf.Tensor) => tf.sum(pool(x as tf.Tensor4D)))(tf.tensor4d(X, [1, 4, 4, 1]))
      .dataSync(),
  );

t.test('3x3 windows, stride 2, padding 1: ties go to the first cell', async (t) => {
  const pool = (x: tf.Tensor4D) => firstMaxPool(tf.pad(x, PAD_1, Number.NEGATIVE_INFINITY), [3, 3], [2, 2]);
  t.same(gradient(pool), [0, 1, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0]);
  const x = tf.tensor4d(X, [1, 4, 4, 1]);
  t.same(
    Array.from(pool(x).dataSync()),
    Array.from(tf.maxPool(tf.pad(x, PAD_1, Number.NEGATIVE_INFINITY), 3, 2, 'valid').dataSync()),
    'the values are tfjs max pooling',
  );
});

t.test('2x2 windows, stride 2: ties go to the first cell', async (t) => {
  t.same(
    gradient((x) => firstMaxPool(x, [2, 2], [2, 2])),
    [0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0],
  );
});

t.test('no tensor is left behind by a gradient', async (t) => {
  const before = tf.memory().numTensors;
  tf.tidy(() => gradient((x) => firstMaxPool(x, [2, 2], [1, 1])));
  t.equal(tf.memory().numTensors, before);
});
