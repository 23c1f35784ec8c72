// How inference is spread over the cores: WORKERS is the core budget, one ONNX Runtime session uses
// ONNX_THREADS of it (all by default), and the batcher hands over as many batches as can compute.
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';
import { batchesInFlight, computeSlots } from '../../src/engines/pool.js';

t.test(
  'ONNX_THREADS defaults to WORKERS, so a container set to its CPU limit is not oversubscribed',
  async (t) => {
    t.equal(loadConfig({ WORKERS: '3' }).onnxThreads, 3);
    t.equal(loadConfig({ WORKERS: '4', ONNX_THREADS: '1' }).onnxThreads, 1);
    t.throws(() => loadConfig({ ONNX_THREADS: '0' }), ConfigError, 'a bad value stops the start');
  },
);

t.test('batches computing at once: one per ONNX_THREADS (or TFJS_WASM_THREADS) of the workers', async (t) => {
  t.equal(computeSlots(2, 2), 1);
  t.equal(computeSlots(2, 1), 2);
  t.equal(computeSlots(8, 2), 4);
  t.equal(computeSlots(2, 8), 1, 'a batch wider than the workers still runs');
});

t.test('batches handed over: the slots, or two when one batch takes every core', async (t) => {
  t.equal(batchesInFlight(2, 2), 2, 'one computing, the next waiting inside the same worker');
  t.equal(batchesInFlight(2, 1), 2, 'two single-thread batches compute side by side');
  t.equal(batchesInFlight(8, 2), 4);
  t.equal(batchesInFlight(4, 1), 4);
  t.equal(batchesInFlight(1, 1), 2);
});

t.test('TFJS_WASM_THREADS: 1 by default, up to 8 (the pthread workers tfjs starts)', async (t) => {
  t.equal(loadConfig({}).wasmThreads, 1);
  t.equal(loadConfig({ TFJS_WASM_THREADS: '2' }).wasmThreads, 2);
  t.throws(() => loadConfig({ TFJS_WASM_THREADS: '9' }), ConfigError);
});

t.test('batching is measured unless MAX_DELAY_MS or MAX_BATCH fixes it', async (t) => {
  t.equal(loadConfig({}).batchingFixed, false);
  t.equal(loadConfig({ MAX_DELAY_MS: '5' }).batchingFixed, true);
  t.equal(loadConfig({ MAX_BATCH: '8' }).batchingFixed, true, 'MAX_BATCH as set, even where a batch costs');
  t.equal(loadConfig({ MAX_BATCH: '' }).batchingFixed, false, 'an empty value is unset');
});
