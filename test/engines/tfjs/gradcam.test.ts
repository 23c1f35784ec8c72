// Grad-CAM in tfjs against a closed form, and on a depthwise convolution (whose gradient the wasm
// backend has no kernel for). For conv → global average pooling → dense, y_c = Σ_k W[k,c]·mean(A_k)
// + b_c, so α_k = W[k,c] and the map is ReLU(Σ_k W[k,c]·A_k) over its maximum (the 1/(h·w) of the
// mean cancels in the normalisation). The full models are checked against PyTorch in
// test/routes/explain.test.ts.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { GradcamExplainer } from '../../../src/engines/tfjs/gradcam.js';
import { TfjsExecutor } from '../../../src/engines/tfjs/executor.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import type { BoundWeight, Graph } from '../../../src/spec/types.js';
import { backendReady, maxAbsDiff } from '../../helpers/engine.js';

await backendReady();

/** A graph from layers on an 8x8x3 input, with seeded weights in [-0.5, 0.5). */
function build(layers: unknown[]): { graph: Graph; bound: BoundWeight[] } {
  const graph = normalizeSpec({ name: 'g', input: [8, 8, 3], layers } as never) as Graph;
  let seed = 7;
  const next = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647 - 0.5;
  };
  const bound = inferShapes(graph).nodes.flatMap((n) =>
    n.weights.map((w) => ({
      layer: n.node.name,
      weight: w.name,
      shape: w.shape,
      data: Float32Array.from({ length: w.shape.reduce((a, b) => a * b, 1) }, next),
    })),
  );
  return { graph, bound };
}

const input = Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => Math.sin(i * 0.7));

t.test('conv → global pool → dense: the map is ReLU(Σ_k W[k,c]·A_k) normalised', async (t) => {
  const { graph, bound } = build([
    { kind: 'conv2d', name: 'conv', filters: 5, kernel: 3, padding: 'same' },
    { kind: 'globalavgpool', name: 'pool' },
    { kind: 'dense', name: 'predictions', units: 4 },
  ]);
  const explainer = GradcamExplainer.create(graph, bound);
  const result = await explainer.explain(input, 2, 'conv', [2, undefined]);
  // A by the executor (conv as the output), W from the bound weights.
  const convOnly = build([{ kind: 'conv2d', name: 'conv', filters: 5, kernel: 3, padding: 'same' }]);
  const a = TfjsExecutor.create(
    convOnly.graph,
    bound.filter((w) => w.layer === 'conv'),
  )
    .predict(tf.tensor4d(input, [2, 8, 8, 3]))
    .dataSync();
  const w = bound.find((b) => b.layer === 'predictions' && b.weight === 'kernel')?.data as Float32Array;
  t.equal(result.classes[0], 2, 'the class asked for');
  const expected = new Float32Array(2 * 64);
  for (let i = 0; i < 2; i++) {
    const c = result.classes[i];
    for (let p = 0; p < 64; p++) {
      let s = 0;
      for (let k = 0; k < 5; k++) s += w[k * 4 + c] * a[(i * 64 + p) * 5 + k];
      expected[i * 64 + p] = Math.max(0, s);
    }
    const max = Math.max(...expected.subarray(i * 64, (i + 1) * 64));
    for (let p = 0; p < 64; p++) expected[i * 64 + p] = max > 0 ? expected[i * 64 + p] / max : 0;
  }
  t.ok(maxAbsDiff(result.maps, expected) < 1e-5, `max |diff| ${maxAbsDiff(result.maps, expected)}`);
  explainer.dispose();
});

t.test(
  'a depthwise convolution is explained (plain convs per channel: wasm has no depthwise gradient)',
  async (t) => {
    const { graph, bound } = build([
      { kind: 'conv2d', name: 'c1', filters: 6, kernel: 3, padding: 'same' },
      { kind: 'conv2d', name: 'dw', filters: 12, kernel: 3, padding: 'same', groups: 6 },
      { kind: 'activation', name: 'r', function: 'relu6' },
      { kind: 'globalavgpool', name: 'pool' },
      { kind: 'dense', name: 'predictions', units: 4 },
    ]);
    const x = tf.tensor4d(input, [2, 8, 8, 3]);
    const served = TfjsExecutor.create(graph, bound).predict(x).dataSync();
    const plain = TfjsExecutor.create(graph, bound, { differentiable: true }).predict(x).dataSync();
    t.ok(maxAbsDiff(served, plain) < 1e-5, 'the differentiable build computes what the served one does');
    const before = tf.memory().numTensors;
    const explainer = GradcamExplainer.create(graph, bound);
    const result = await explainer.explain(input, 2, 'c1', [undefined, undefined]);
    t.match(result, { height: 8, width: 8 });
    t.ok(result.maps.some((v) => v === 1) && result.maps.every((v) => v >= 0 && v <= 1), 'normalised maps');
    explainer.dispose();
    t.equal(tf.memory().numTensors, before, 'no tensor left behind');
  },
);
