// ONNX Runtime (CPU, 1 and 2 intra-op threads) against the tfjs wasm backend on torchvision's
// ResNet-50 at 224x224, batch 1, seeded random weights (timing does not depend on the values).
// Prints the median ms/image over a few runs after warm-up, and the ratios.
// Run: npx tsx bench/onnx-vs-tfjs.ts [iterations=5]
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../models/index.js';
import { inferShapes } from '../src/spec/shapes.js';
import { initBackend } from '../src/engines/tfjs/backend.js';
import { TfjsExecutor } from '../src/engines/tfjs/executor.js';
import { buildOnnxModel } from '../src/interop/onnx/emit.js';
import { OnnxEngine } from '../src/engines/onnxruntime.js';
import { normalizeSpec } from '../src/spec/normalize.js';
import { randomInput, randomWeights } from './lib/random.js';

const ITERATIONS = Math.max(1, Number(process.argv[2] ?? 5));
const WARMUP = 2;

async function medianMs(run: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const start = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const graph = normalizeSpec(ZOO.get('resnet50_tv')!.build());
const bound = randomWeights(inferShapes(graph), 50);
const x = randomInput([1, ...graph.input], 51);
const results: Record<string, number> = {};

const buildStart = Date.now();
const modelBytes = buildOnnxModel(graph, bound, { logits: true });
const mib = (modelBytes.length / 2 ** 20).toFixed(1);
const built = `ONNX model ${mib} MiB built in ${Date.now() - buildStart} ms`;
const runs = `${WARMUP} warm-up + ${ITERATIONS} timed runs, median`;
console.log(`resnet50_tv 224x224x3, batch 1; ${built}; ${cpus().length} CPUs; ${runs}`);

for (const threads of [1, 2]) {
  const engine = await OnnxEngine.create(modelBytes, { intraOpNumThreads: threads });
  results[`onnxruntime, ${threads} thread${threads > 1 ? 's' : ''}`] = await medianMs(() =>
    engine.run(x.data, x.shape),
  );
  await engine.dispose();
}

const backend = await initBackend('wasm');
const executor = TfjsExecutor.create(graph, bound, { logits: true });
const input = tf.tensor4d(x.data, x.shape as [number, number, number, number], 'float32');
const label = `tfjs wasm (simd ${backend.wasm?.simd}, threads ${backend.wasm?.threads})`;
results[label] = await medianMs(async () => {
  const y = executor.predict(input);
  await y.data();
  y.dispose();
});
input.dispose();
executor.dispose();

for (const [name, ms] of Object.entries(results))
  console.log(`${name.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms/image`);
const tfjsMs = results[label];
for (const [name, ms] of Object.entries(results)) {
  if (name !== label) console.log(`tfjs wasm / ${name}: ${(tfjsMs / ms).toFixed(2)}x`);
}
