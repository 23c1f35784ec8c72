/**
 * Analyses of user input run here, off the event loop: a small pool of worker threads (sized to leave
 * the cores to inference), a bounded queue in front of it, and a time and memory budget per job. A full
 * queue answers 503 with Retry-After; a job past its budget is stopped (its worker is replaced) and
 * answered 413, because the same input would exceed it again. With no workers, jobs run inline.
 */
import type { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import { AppError, type ErrorDetail } from '../errors.js';
import { spawnWorker } from '../spawn-worker.js';
import { threadCpuMs } from '../thread-cpu.js';
import { type AnalysisJob, runAnalysisJob } from './analysis-job.js';

export interface AnalysisPoolOptions {
  /** Worker threads; 0 runs every job on the event loop (for debugging and single-threaded embedders). */
  workers: number;
  /** Jobs that may wait for a worker; one more is refused with 503. */
  queue: number;
  /** Running time per job, in ms. */
  timeoutMs: number;
  /** Heap per worker, in MB (V8's old generation). */
  memoryMb: number;
  /** Nice value of the worker threads, so the event loop runs first (src/thread-priority.ts). */
  nice: number;
}

export type AnalysisReply =
  | { ready: true; tid?: number }
  | { id: number; bytes: Uint8Array }
  | { id: number; error: { statusCode: number; code: string; message: string; detail: ErrorDetail } }
  | { id: number; internal: string };

interface Job {
  id: number;
  job: AnalysisJob;
  resolve: (bytes: Uint8Array) => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
}

interface Slot {
  worker: Worker;
  /** Set once the worker has loaded its modules. */
  ready: boolean;
  /** The worker's thread id, where the kernel's per-thread CPU time can be read (Linux). */
  tid?: number;
  running?: Job & { timer: NodeJS.Timeout; startedAt: number; cpuAtStart?: number };
}

/** However starved of CPU, an analysis is stopped after this many times its budget in wall time. */
const WALL_CAP = 6;

export class AnalysisPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly options: AnalysisPoolOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    for (let i = 0; i < options.workers; i++) this.slots.push(this.spawn());
  }

  /** Jobs waiting for a worker and jobs running. */
  get depth(): { waiting: number; running: number } {
    return { waiting: this.waiting.length, running: this.slots.filter((s) => s.running).length };
  }

  /** Runs `job`; its bytes resolve with the report's JSON. A job whose client left is dropped unrun. */
  run(job: AnalysisJob, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.closed)
      return Promise.reject(new AppError(503, 'SHUTTING_DOWN', 'the service is shutting down'));
    if (this.options.workers === 0) return Promise.resolve(runAnalysisJob(job));
    if (this.waiting.length >= this.options.queue) {
      return Promise.reject(
        new AppError(
          503,
          'ANALYZE_BUSY',
          `analysis queue full: ${this.waiting.length} analyses wait (ANALYZE_QUEUE); retry shortly`,
          { retryAfter: 1, queue: this.options.queue },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const entry: Job = { id: this.nextId++, job, resolve, reject, signal };
      this.waiting.push(entry);
      // A client that leaves while its job waits frees its place in the queue at once.
      signal?.addEventListener(
        'abort',
        () => {
          const index = this.waiting.indexOf(entry);
          if (index === -1) return;
          this.waiting.splice(index, 1);
          reject(new AppError(499, 'CLIENT_CLOSED_REQUEST', 'the client closed the request'));
          this.holdWhileBusy();
        },
        { once: true },
      );
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.waiting.splice(0))
      j.reject(new AppError(503, 'SHUTTING_DOWN', 'the service is shutting down'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = spawnWorker(
      import.meta.url,
      'analysis-worker',
      { nice: this.options.nice },
      {
        resourceLimits: { maxOldGenerationSizeMb: this.options.memoryMb },
      },
    );
    const slot: Slot = { worker, ready: false };
    worker.on('message', (reply: AnalysisReply) => this.settle(slot, reply));
    worker.on('error', (err) => this.lost(slot, err));
    worker.on('exit', (code) => {
      if (!this.closed && this.slots.includes(slot)) this.lost(slot, new Error(`exited with code ${code}`));
    });
    // An idle worker must not keep the process alive on its own; holdWhileBusy refs it while jobs wait.
    worker.unref();
    return slot;
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.running || !slot.ready) continue;
      let next = this.waiting.shift();
      // A client that left while its job waited costs nothing more.
      while (next?.signal?.aborted) {
        next.reject(new AppError(499, 'CLIENT_CLOSED_REQUEST', 'the client closed the request'));
        next = this.waiting.shift();
      }
      if (!next) break;
      const timer = setTimeout(() => this.overtime(slot), this.options.timeoutMs);
      const cpuAtStart = slot.tid === undefined ? undefined : threadCpuMs(slot.tid);
      slot.running = { ...next, timer, startedAt: performance.now(), cpuAtStart };
      const transfer = next.job.kind === 'file' ? [next.job.bytes.buffer as ArrayBuffer] : [];
      slot.worker.postMessage({ id: next.id, job: next.job }, transfer);
    }
    this.holdWhileBusy();
  }

  /**
   * While a job waits or runs, the workers keep the process alive: a caller awaiting an answer with
   * nothing else on the event loop (a script, a test through app.inject) would otherwise see the
   * process exit before a starting worker says it is ready.
   */
  private holdWhileBusy(): void {
    const busy = this.waiting.length > 0 || this.slots.some((s) => s.running);
    for (const slot of this.slots) {
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  private settle(slot: Slot, reply: AnalysisReply): void {
    if ('ready' in reply) {
      slot.ready = true;
      slot.tid = reply.tid;
      this.dispatch();
      return;
    }
    const job = slot.running;
    if (!job || job.id !== reply.id) return;
    clearTimeout(job.timer);
    slot.running = undefined;
    if ('bytes' in reply) job.resolve(reply.bytes);
    else if ('error' in reply) {
      const e = reply.error;
      job.reject(new AppError(e.statusCode, e.code, e.message, e.detail));
    } else job.reject(new Error(`analysis worker: ${reply.internal}`));
    this.dispatch();
  }

  /** A job past its time budget: its worker is stopped and replaced; the client is told why. */
  private overtime(slot: Slot): void {
    const job = slot.running;
    if (!job) return;
    // The budget is CPU time where the kernel tells it: a worker that waited for a core (it yields
    // to the event loop and to inference) has not used its budget. Wall time is capped all the same.
    const now = slot.tid === undefined ? undefined : threadCpuMs(slot.tid);
    const used = now === undefined || job.cpuAtStart === undefined ? undefined : now - job.cpuAtStart;
    const wall = performance.now() - job.startedAt;
    if (used !== undefined && used < this.options.timeoutMs && wall < WALL_CAP * this.options.timeoutMs) {
      job.timer = setTimeout(() => this.overtime(slot), Math.max(20, this.options.timeoutMs - used));
      return;
    }
    this.replace(slot);
    job.reject(
      new AppError(
        413,
        'ANALYSIS_TOO_COSTLY',
        `body: expected an analysis that finishes within ${this.options.timeoutMs} ms (ANALYZE_TIMEOUT_MS); this one ran longer and was stopped`,
        { field: 'body', limitMs: this.options.timeoutMs },
      ),
    );
  }

  /** A worker that died (out of memory, or a crash): the job it held fails, a new worker takes its place. */
  private lost(slot: Slot, err: Error & { code?: string }): void {
    const job = slot.running;
    if (!this.slots.includes(slot)) return;
    this.replace(slot);
    if (!job) return;
    if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      job.reject(
        new AppError(
          413,
          'ANALYSIS_TOO_COSTLY',
          `body: expected an analysis that fits in ${this.options.memoryMb} MB (ANALYZE_MEMORY_MB); this one needed more`,
          { field: 'body', limitMb: this.options.memoryMb },
        ),
      );
    } else {
      this.log.error({ err }, 'analysis worker failed');
      job.reject(new Error(`analysis worker failed: ${err.message}`));
    }
  }

  private replace(slot: Slot): void {
    if (slot.running) clearTimeout(slot.running.timer);
    const index = this.slots.indexOf(slot);
    if (index === -1) return;
    void slot.worker.terminate();
    this.slots[index] = this.spawn();
    this.dispatch();
  }
}
