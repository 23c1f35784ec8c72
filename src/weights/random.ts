/**
 * Seeded random weights for any graph and random inputs: what the benchmarks and `convnet-serve
 * profile` time with (timing does not depend on the values), and what the engine tests compare
 * engines on. rng() is the generator scripts/reference/seeded.py reproduces bit for bit.
 */
import type { ShapedGraph } from '../spec/shapes.js';
import type { BoundWeight } from '../spec/types.js';
import type { RawTensor } from './types.js';

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const uniform = (next: () => number, n: number, lo: number, hi: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * next();
  return a;
};

/**
 * Weights for every layer of a shaped graph, in Keras layout: He-uniform kernels (so activations
 * keep their scale through deep stacks), small biases, and BN statistics like the PyTorch fixtures'
 * (gamma, variance in [0.5, 1.5): positive variances; beta, mean in [−0.1, 0.1)).
 */
export function randomWeights(shaped: ShapedGraph, seed: number): BoundWeight[] {
  const next = rng(seed);
  const bound: BoundWeight[] = [];
  for (const { node, weights } of shaped.nodes) {
    for (const w of weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      let data: Float32Array;
      if (w.name === 'kernel') {
        const fanIn = n / w.shape[w.shape.length - 1];
        const limit = Math.sqrt(6 / fanIn);
        data = uniform(next, n, -limit, limit);
      } else if (w.name === 'gamma' || w.name === 'moving_variance' || w.name === 'variance') {
        data = uniform(next, n, 0.5, 1.5);
      } else {
        data = uniform(next, n, -0.1, 0.1);
      }
      bound.push({ layer: node.name, weight: w.name, shape: w.shape, data });
    }
  }
  return bound;
}

export function randomInput(shape: number[], seed: number): RawTensor {
  return {
    shape,
    data: uniform(
      rng(seed),
      shape.reduce((a, b) => a * b, 1),
      -1,
      1,
    ),
  };
}
