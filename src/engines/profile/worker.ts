/**
 * A profile's own thread: it reads and binds the served model's weights, builds the engine with
 * profiling on, runs it and posts the timings back, then ends. Serving's workers and their sessions
 * are never touched, so a profile cannot change what or how they serve.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readModelWeights } from '../../interop/model-files.js';
import { defined } from '../../invariant.js';
import { inferShapes } from '../../spec/shapes.js';
import { yieldThreadPriority } from '../../thread-priority.js';
import { bindWeights } from '../../weights/bind.js';
import { initBackend } from '../tfjs/backend.js';
import { PROFILERS } from './index.js';
import type { ProfileJob, ProfileReply } from './in-worker.js';

const job = workerData as ProfileJob;
const port = defined(parentPort, 'the parent port (this module runs in a worker thread)');
// First, so that the compute threads ONNX Runtime and tfjs create from this thread inherit it.
yieldThreadPriority(job.init.nice);
try {
  const file = await readModelWeights(job.plan.weightsPath);
  const { bound } = bindWeights(inferShapes(job.plan.graph), file.tensors);
  if (job.plan.engine === 'tfjs') await initBackend(job.init.backend, job.init.wasmThreads);
  const timings = await PROFILERS[job.plan.engine](job.plan.graph, bound, job.options);
  port.postMessage({ ok: true, timings } satisfies ProfileReply);
} catch (err) {
  port.postMessage({ ok: false, error: (err as Error).message } satisfies ProfileReply);
}
