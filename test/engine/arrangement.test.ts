// How inference is spread over the cores: WORKERS is the core budget, one ONNX Runtime session uses
// ONNX_THREADS of it (all by default), and the batcher hands over as many batches as can compute.
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';
import { batchesInFlight, onnxSlots } from '../../src/engine/pool.js';

t.test('ONNX_THREADS defaults to WORKERS, so a container set to its CPU limit is not oversubscribed', async (t) => {
  t.equal(loadConfig({ WORKERS: '3' }).onnxThreads, 3);
  t.equal(loadConfig({ WORKERS: '4', ONNX_THREADS: '1' }).onnxThreads, 1);
  t.throws(() => loadConfig({ ONNX_THREADS: '0' }), ConfigError, 'a bad value stops the start');
});

t.test('ONNX batches computing at once: one per ONNX_THREADS of the workers', async (t) => {
  t.equal(onnxSlots(2, 2), 1);
  t.equal(onnxSlots(2, 1), 2);
  t.equal(onnxSlots(8, 2), 4);
  t.equal(onnxSlots(2, 8), 1, 'a session wider than the workers still runs');
});

t.test('batches handed over: every worker for tfjs; for ONNX the slots, or two when one session takes every core', async (t) => {
  t.equal(batchesInFlight('tfjs', 2, 2), 2);
  t.equal(batchesInFlight('onnxruntime', 2, 2), 2, 'one computing, the next waiting inside the same worker');
  t.equal(batchesInFlight('onnxruntime', 2, 1), 2, 'two single-thread sessions compute side by side');
  t.equal(batchesInFlight('onnxruntime', 8, 2), 4);
  t.equal(batchesInFlight('onnxruntime', 1, 1), 2);
});
