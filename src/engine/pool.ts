/**
 * A pool of inference workers sized to the cores. Every worker loads every model, and each batch
 * goes to the worker with the fewest batches in flight, so both cores compute while the main
 * thread keeps serving health checks, metrics and /analyze.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { BackendChoice, BackendName } from './backend.js';
import type { ModelPlan, WorkerInit, WorkerMemory, WorkerReply, WorkerRequest } from './types.js';
import { WeightsError } from '../weights/types.js';

// Under tsx (tests, dev) the worker is the .ts source; in the build it is the compiled .js.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './worker.ts' : './worker.js', import.meta.url);

/** From the build, the compiled worker; from source (tests, dev), a bootstrap that registers tsx first. */
function spawnWorker(workerData: WorkerInit): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

class PoolWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  inFlight = 0;
  readonly ready: Promise<BackendChoice>;
  private exited = false;

  constructor(readonly index: number, readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (msg: WorkerReply) => {
        if (msg.type === 'ready') {
          resolve(msg.backend);
          return;
        }
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(msg.problems ? new WeightsError(msg.error, msg.problems) : new Error(msg.error));
      });
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      this.exited = true;
      this.failAll(new Error(`inference worker ${index} exited with code ${code}`));
    });
  }

  private failAll(err: Error) {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  request<T>(msg: DistributiveOmit<WorkerRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`inference worker ${this.index} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

export interface PoolOptions {
  size?: number;
  backend?: BackendName;
  onnxThreads?: number;
}

export class InferencePool {
  private readonly workers: PoolWorker[];
  readonly backend: Promise<BackendChoice>;

  constructor(options: PoolOptions = {}) {
    const size = Math.max(1, options.size ?? availableParallelism());
    const init: WorkerInit = { backend: options.backend, onnxThreads: options.onnxThreads ?? 1 };
    this.workers = Array.from({ length: size }, (_, i) => new PoolWorker(i, spawnWorker(init)));
    this.backend = Promise.all(this.workers.map((w) => w.ready)).then((choices) => choices[0]);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Loads a model in every worker; rejects (with the first worker's error) if any fails. */
  async load(plan: ModelPlan): Promise<{ keyStyle: string; format: string }> {
    await this.backend;
    const results = await Promise.all(this.workers.map((w) => w.request<{ keyStyle: string; format: string }>({ type: 'load', plan })));
    return results[0];
  }

  async unload(model: string): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'unload', model })));
  }

  /** Runs one batch on the least busy worker; `input` is transferred, not copied. */
  async infer(model: string, input: Float32Array, n: number): Promise<Float32Array> {
    const worker = this.workers.reduce((best, w) => (w.inFlight < best.inFlight ? w : best));
    worker.inFlight++;
    try {
      return await worker.request<Float32Array>({ type: 'infer', model, input, n }, [input.buffer as ArrayBuffer]);
    } finally {
      worker.inFlight--;
    }
  }

  /** Runs the same batch on every worker (warm-up: first calls compile kernels and allocate). */
  async inferOnAll(model: string, input: Float32Array, n: number): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ type: 'infer', model, input: input.slice(), n })));
  }

  /** Median milliseconds per batch of `n` on the first worker (used to pick an engine). */
  async time(model: string, input: Float32Array, n: number, runs: number): Promise<number> {
    return this.workers[0].request<number>({ type: 'time', model, input, n, runs });
  }

  /** The ONNX graph of a model with its weights, built in a worker. */
  async exportOnnx(plan: ModelPlan): Promise<Uint8Array> {
    const worker = this.workers.reduce((best, w) => (w.inFlight < best.inFlight ? w : best));
    return worker.request<Uint8Array>({ type: 'export-onnx', plan });
  }

  async memory(): Promise<WorkerMemory[]> {
    return Promise.all(this.workers.map((w) => w.request<WorkerMemory>({ type: 'memory' })));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
