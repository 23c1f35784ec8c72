/**
 * Runs one profile in a thread of its own (worker.ts) and resolves with its timings; the thread is
 * stopped if the caller aborts (its client left) or the profile outlives `timeoutMs`, and the
 * trace folder made here is removed either way.
 */
import { rm } from 'node:fs/promises';
import type { LayerTimings } from '../../analysis/profile.js';
import { spawnWorker } from '../../spawn-worker.js';
import type { ModelPlan, WorkerInit } from '../types.js';
import { makeTraceDir } from './trace-dir.js';
import type { ProfileOptions } from './options.js';

export interface ProfileJob {
  plan: ModelPlan;
  options: ProfileOptions;
  init: WorkerInit;
}

export type ProfileReply = { ok: true; timings: LayerTimings } | { ok: false; error: string };

export class ProfileTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the profile did not finish within ${timeoutMs} ms`);
    this.name = 'ProfileTimeoutError';
  }
}

export async function profileInWorker(
  job: ProfileJob,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<LayerTimings> {
  const traceDir = await makeTraceDir();
  try {
    return await runWorker({ ...job, options: { ...job.options, traceDir } }, timeoutMs, signal);
  } finally {
    await rm(traceDir, { recursive: true, force: true });
  }
}

function runWorker(job: ProfileJob, timeoutMs: number, signal?: AbortSignal): Promise<LayerTimings> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorker(import.meta.url, 'worker', job);
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      outcome();
    };
    const onAbort = () => finish(() => reject(signal?.reason ?? new Error('aborted')));
    const timer = setTimeout(() => finish(() => reject(new ProfileTimeoutError(timeoutMs))), timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: ProfileReply) =>
      finish(() => (reply.ok ? resolve(reply.timings) : reject(new Error(reply.error)))),
    );
    worker.once('error', (err) => finish(() => reject(err)));
    worker.once('exit', (code) =>
      finish(() => reject(new Error(`the profile thread exited with code ${code}`))),
    );
  });
}
