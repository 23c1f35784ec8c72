/**
 * Time per layer on the tfjs engine. tf.profile's kernel records carry no layer, only a kernel name,
 * so the executor times each of its steps instead, which is exactly one spec layer (with its fused
 * activation): the wasm, cpu and tfjs-node backends run kernels synchronously, so the wall time
 * around a step's ops is that step's compute plus tfjs' dispatch of them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayerTimings } from '../../analysis/profile.js';
import type { BoundWeight, Graph } from '../../spec/types.js';
import { randomInput } from '../../weights/random.js';
import { TfjsExecutor } from '../tfjs/executor.js';
import type { ProfileOptions } from './options.js';

export function profileTfjs(graph: Graph, bound: BoundWeight[], options: ProfileOptions): LayerTimings {
  const executor = TfjsExecutor.create(graph, bound, { logits: true });
  const input = randomInput([options.batch, ...graph.input], 1);
  const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  const runs: Record<string, number>[] = [];
  const runMs: number[] = [];
  try {
    // One run first, not counted: the first call allocates and (on wasm) sets up every kernel.
    for (let i = 0; i <= options.runs; i++) {
      const t0 = performance.now();
      const { output, ms } = executor.predictTimed(x);
      output.dataSync();
      const wall = performance.now() - t0;
      output.dispose();
      if (i === 0) continue;
      runs.push(Object.fromEntries(ms));
      runMs.push(wall);
    }
  } finally {
    x.dispose();
    executor.dispose();
  }
  return {
    engine: 'tfjs',
    method: `tfjs ${tf.getBackend()} backend: wall time around each layer's ops (its kernels run synchronously)`,
    batch: options.batch,
    runs,
    runMs,
    unattributedNodes: [],
  };
}
