/**
 * An analysis worker thread: answers AnalysisJobs one at a time with the report's JSON bytes, so a
 * costly analysis (tens of thousands of layers, a large ONNX file) never holds the event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { defined } from '../invariant.js';
import { type AnalysisJob, runAnalysisJob } from './analysis-job.js';
import type { AnalysisReply } from './analysis-pool.js';
import { yieldThreadPriority } from '../thread-priority.js';
import { currentThreadId } from '../thread-cpu.js';

const port = defined(parentPort, 'the parent port (this module runs in a worker thread)');
yieldThreadPriority((workerData as { nice: number }).nice);

port.on('message', ({ id, job }: { id: number; job: AnalysisJob }) => {
  let reply: AnalysisReply;
  try {
    reply = { id, bytes: runAnalysisJob(job) };
  } catch (err) {
    // Client errors keep their status, code and detail; anything else is a bug, answered as a 500.
    reply =
      err instanceof AppError
        ? {
            id,
            error: { statusCode: err.statusCode, code: err.code, message: err.message, detail: err.detail },
          }
        : { id, internal: (err as Error).stack ?? String(err) };
  }
  port.postMessage(reply, 'bytes' in reply ? [reply.bytes.buffer as ArrayBuffer] : []);
});
// Loaded: a job's time budget starts when it reaches a worker that can run it, not during start-up.
port.postMessage({ ready: true, tid: currentThreadId() });
