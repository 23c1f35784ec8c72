// Shared by the engine tests: one-call runs of a graph on each engine, and the error measure they
// are compared by. Seeded random weights and inputs are in bench/lib/random.ts.
import * as tf from '@tensorflow/tfjs';
import { TfjsExecutor, type ExecutorOptions } from '../../src/engines/tfjs/executor.js';
import { buildOnnxModel, type OnnxBuildOptions } from '../../src/interop/onnx/emit.js';
import { OnnxEngine } from '../../src/engines/onnxruntime.js';
import type { Graph } from '../../src/spec/types.js';
import type { BoundWeight } from '../../src/weights/bind.js';
import type { RawTensor } from '../../src/weights/types.js';
import { maxAbs, maxAbsDiff } from './engine.js';

/**
 * The tfjs executor's output for `input`. By default its plainest form (no batch-norm folding, no
 * activation fusion), the reference every other path is held to.
 */
export async function runTfjs(
  graph: Graph,
  bound: BoundWeight[],
  input: RawTensor,
  logits = false,
  options: ExecutorOptions = { foldBatchNorm: false, fuseActivations: false },
): Promise<Float32Array> {
  const model = TfjsExecutor.create(graph, bound, { ...options, logits });
  try {
    const x = tf.tensor4d(input.data, input.shape as [number, number, number, number], 'float32');
    const y = model.predict(x);
    const data = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    return data;
  } finally {
    model.dispose();
  }
}

export async function runOnnx(
  graph: Graph,
  bound: BoundWeight[],
  input: RawTensor,
  options: OnnxBuildOptions = {},
): Promise<{ data: Float32Array; shape: number[] }> {
  const engine = await OnnxEngine.create(buildOnnxModel(graph, bound, options));
  try {
    return await engine.run(input.data, input.shape);
  } finally {
    await engine.dispose();
  }
}

/** max |a − b| / max |b|: the error measure of every comparison here (b is the reference). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const scale = maxAbs(b);
  return maxAbsDiff(a, b) / (scale === 0 ? 1 : scale);
}
