// tfjs' threaded wasm build in Node (src/engines/tfjs/wasm-threads.ts): a worker started with
// TFJS_WASM_THREADS=2 reports two XNNPACK threads and computes what the single-threaded build
// computes, on a default model with its trained weights.
import t from 'tap';
import { InferencePool } from '../../../src/engines/pool.js';
import { floatBatch } from '../../../src/engines/batch-input.js';
import { ZOO } from '../../../models/index.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';

const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
const weightsPath = new URL('../../../models/fashion-resnet/weights.safetensors', import.meta.url).pathname;
const plan = { name: 'fashion-resnet', graph, weightsPath, engine: 'tfjs' as const };

/** Four 28x28 grey images with values in [−1, 1], the same every run. */
function input(): Float32Array {
  const x = new Float32Array(4 * 28 * 28);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * Math.cos(i * 0.011);
  return x;
}

async function logits(wasmThreads: number): Promise<{ threads: number | undefined; out: Float32Array }> {
  const pool = new InferencePool({ size: 1, backend: 'wasm', wasmThreads });
  try {
    const backend = await pool.backend;
    await pool.load(plan);
    return {
      threads: backend.wasm?.threads,
      out: await pool.infer(plan.name, floatBatch(input(), 4), 'tfjs'),
    };
  } finally {
    await pool.close();
  }
}

t.test('two wasm threads: reported, and the same logits as one', async (t) => {
  const single = await logits(1);
  const threaded = await logits(2);
  t.equal(single.threads, 1, 'the single-threaded build runs one thread');
  t.equal(threaded.threads, 2, 'the threaded build runs two');
  const scale = Math.max(...single.out.map(Math.abs));
  const worst = Math.max(...single.out.map((v, i) => Math.abs(v - threaded.out[i])));
  t.ok(
    worst / scale < 1e-5,
    `max difference ${worst.toExponential(2)} relative to the largest logit ${scale.toFixed(2)}`,
  );
});

t.test('when the threaded build cannot start, the single-threaded one serves and says why', async (t) => {
  // More threads than the build has workers for: the loader refuses before replacing anything.
  const pool = new InferencePool({ size: 1, backend: 'wasm', wasmThreads: 9 });
  try {
    const backend = await pool.backend;
    t.equal(backend.name, 'wasm', 'still wasm, not the cpu backend');
    t.equal(backend.wasm?.threads, 1);
    t.match(backend.wasm?.threadedBuildError, /expected 1 to 8; received 9/, 'the reason is reported');
    await pool.load(plan);
    const out = await pool.infer(plan.name, floatBatch(input(), 4), 'tfjs');
    t.equal(out.length, 4 * 10, 'and it classifies');
  } finally {
    await pool.close();
  }
});
