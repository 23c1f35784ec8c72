/**
 * A pool of inference workers sized to the cores. Every worker loads every model, and each batch
 * goes to the worker with the fewest batches in flight, so both cores compute while the main
 * thread keeps serving health checks, metrics and /analyze.
 */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { BackendChoice, BackendName } from './tfjs/backend.js';
import type {
  EngineKind,
  EngineTiming,
  LoadResult,
  ModelPlan,
  WorkerInit,
  WorkerMemory,
  WorkerReply,
  WorkerRequest,
} from './types.js';
import { WeightsError } from '../weights/types.js';
import { batchTransfers, floatBatch, type PackedBatch } from './batch-input.js';
import { spawnWorker } from '../spawn-worker.js';
import type { PriorityResult } from '../thread-priority.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

class PoolWorker {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  inFlight = 0;
  /** False until the worker has started and every loaded model is in it again (after a respawn). */
  available = false;
  readonly ready: Promise<BackendChoice>;
  /** The nice value the worker took, once it is ready. */
  priority?: PriorityResult;
  exited = false;

  constructor(
    readonly index: number,
    readonly worker: Worker,
    onExit: (w: PoolWorker, code: number) => void,
  ) {
    this.ready = new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) =>
        reject(new Error(`inference worker ${index} exited with code ${code} before it was ready`)),
      );
      worker.on('message', (msg: WorkerReply) => {
        if (msg.type === 'ready') {
          this.priority = msg.priority;
          resolve(msg.backend);
          return;
        }
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(msg.problems ? new WeightsError(msg.error, msg.problems) : new Error(msg.error));
      });
    });
    this.ready.catch(() => undefined);
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', (code) => {
      this.exited = true;
      this.available = false;
      this.failAll(new Error(`inference worker ${index} exited with code ${code}`));
      onExit(this, code);
    });
  }

  private failAll(err: Error) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  /**
   * Sends one request. With `timeoutMs`, a worker that does not answer in time is terminated
   * (a hung worker would otherwise hold its batches forever); the pool then replaces it.
   */
  request<T>(
    msg: DistributiveOmit<WorkerRequest, 'id'>,
    transfer: ArrayBuffer[] = [],
    timeoutMs?: number,
  ): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`inference worker ${this.index} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = timeoutMs
        ? setTimeout(() => {
            reject(
              new Error(
                `inference worker ${this.index} did not answer within ${timeoutMs} ms; restarting it`,
              ),
            );
            this.pending.delete(id);
            void this.worker.terminate();
          }, timeoutMs)
        : undefined;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

/** Batches that can compute at once when each spreads over `threads` of the workers' cores. */
export function computeSlots(workers: number, threads: number): number {
  return Math.max(1, Math.floor(workers / threads));
}

/**
 * Batches of a model the batcher may hand over at once, when each batch computes on `threads`
 * threads (ONNX_THREADS for ONNX Runtime, TFJS_WASM_THREADS for tfjs): one per that many of the
 * workers' cores. More batches computing than the cores hold would make their threads fight
 * (bench: two two-thread ORT sessions at once served 0.64x of one). When one batch takes every
 * core, a second one waits inside that same worker (see InferencePool.infer), so the worker starts
 * it the moment the first ends instead of after a round trip through the busy event loop.
 */
export function batchesInFlight(workers: number, threads: number): number {
  const slots = computeSlots(workers, threads);
  return slots === 1 ? 2 : slots;
}

export interface PoolOptions {
  size?: number;
  backend?: BackendName;
  onnxThreads?: number;
  /** tfjs wasm threads per worker (1: the single-threaded build). */
  wasmThreads?: number;
  /** Nice value of the worker threads, so the event loop runs first (src/thread-priority.ts). */
  nice?: number;
  /** A batch not answered in this time means the worker hangs; it is restarted. */
  hangTimeoutMs?: number;
}

/** A worker died, or its replacement is serving again (or could not load the models). */
export interface WorkerEvent {
  worker: number;
  state: 'exited' | 'restored' | 'restore-failed';
  detail?: string;
}

export class InferencePool {
  private readonly workers: PoolWorker[];
  readonly backend: Promise<BackendChoice>;
  /** Every plan loaded into the workers, so a replacement worker can be given the same models. */
  private readonly plans = new Map<string, ModelPlan>();
  /**
   * Which workers hold each model: a copy can be loaded in some workers first (a trial; a serving
   * copy before readiness, see spread), and batches only go where it is.
   */
  private readonly holders = new Map<string, Set<number>>();
  private closing = false;
  private readonly init: WorkerInit;
  /** Told when a worker died and when its replacement is serving again (set by whoever logs them). */
  onWorkerEvent?: (event: WorkerEvent) => void;

  constructor(private readonly options: PoolOptions = {}) {
    const size = Math.max(1, options.size ?? availableParallelism());
    // The workers are the cores the service plans for; one ONNX Runtime session uses them all by default.
    this.init = {
      backend: options.backend,
      onnxThreads: options.onnxThreads ?? size,
      wasmThreads: options.wasmThreads ?? 1,
      nice: options.nice ?? 0,
    };
    this.workers = Array.from({ length: size }, (_, i) => this.spawn(i));
    this.backend = Promise.all(this.workers.map((w) => w.ready)).then((choices) => {
      for (const w of this.workers) w.available = true;
      return choices[0];
    });
  }

  private spawn(index: number): PoolWorker {
    return new PoolWorker(
      index,
      spawnWorker(import.meta.url, 'worker', this.init),
      (w, code) => void this.replace(w, code),
    );
  }

  /** A worker died (out of memory, a crash, a hang): start another and reload every model into it. */
  private async replace(dead: PoolWorker, code: number): Promise<void> {
    if (this.closing) return;
    this.onWorkerEvent?.({ worker: dead.index, state: 'exited', detail: `exit code ${code}` });
    const fresh = this.spawn(dead.index);
    this.workers[dead.index] = fresh;
    try {
      await fresh.ready;
      for (const plan of this.plans.values()) {
        await fresh.request({ type: 'load', plan });
        this.hold(plan.name, fresh.index);
      }
      fresh.available = true;
      this.onWorkerEvent?.({ worker: dead.index, state: 'restored' });
    } catch (err) {
      this.onWorkerEvent?.({
        worker: dead.index,
        state: 'restore-failed',
        detail: (err as Error).message,
      });
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** The nice value the workers took (every worker asks for the same one), once one is ready. */
  get priority(): PriorityResult | undefined {
    return this.workers.find((w) => w.priority)?.priority;
  }

  /** Threads one batch of `engine` computes on (`threads`: a copy's own ONNX Runtime setting). */
  private threadsPerBatch(engine: EngineKind, threads?: number): number {
    return engine === 'tfjs' ? this.init.wasmThreads : (threads ?? this.init.onnxThreads);
  }

  /** Batches of a model the batcher may hand over at once (see batchesInFlight above). */
  batchesInFlight(engine: EngineKind, threads?: number): number {
    return batchesInFlight(this.workers.length, this.threadsPerBatch(engine, threads));
  }

  /** ONNX Runtime threads of a session when nothing else is asked (ONNX_THREADS). */
  get onnxThreads(): number {
    return this.init.onnxThreads;
  }

  /** Workers that are up and hold every model. */
  get liveWorkers(): number {
    return this.workers.filter((w) => w.available && !w.exited).length;
  }

  private hold(model: string, worker: number): void {
    const set = this.holders.get(model) ?? new Set<number>();
    set.add(worker);
    this.holders.set(model, set);
  }

  /**
   * Workers up (and holding `model`, when one is named), lowest-numbered first; throws when there
   * are none.
   */
  private live(model?: string): PoolWorker[] {
    const held = model === undefined ? undefined : this.holders.get(model);
    const live = this.workers.filter((w) => w.available && !w.exited && (!held || held.has(w.index)));
    if (live.length === 0)
      throw new Error(
        held
          ? `no inference worker holding ${model} is running (restarting)`
          : 'no inference worker is running (all are restarting)',
      );
    return live;
  }

  private pick(model?: string): PoolWorker {
    // Ties go to the highest-numbered worker: all-cores batches queue on the lowest (see infer).
    return this.live(model).reduce((best, w) => (w.inFlight <= best.inFlight ? w : best));
  }

  /**
   * Loads a model in every worker (or the workers `on` lists: a trial copy, see trialWorker);
   * rejects (with the first worker's error) if any fails. A worker that restarts loads it again. An
   * int8 model is calibrated once, by the first worker; the others, and any replacement, load its bytes.
   */
  async load(plan: ModelPlan, on?: number[]): Promise<LoadResult> {
    await this.backend;
    const workers = this.chosen(on);
    let first: LoadResult | undefined;
    let shared = plan;
    const loadIn = async (w: PoolWorker, p: ModelPlan) => {
      const result = await w.request<LoadResult>({ type: 'load', plan: p });
      this.hold(plan.name, w.index);
      return result;
    };
    if (plan.precision === 'int8' && !plan.onnx) {
      const { onnx, ...result } = await loadIn(workers[0], plan);
      first = result;
      shared = { ...plan, calibration: undefined, onnx };
    }
    const rest = first ? workers.slice(1) : workers;
    const results = await Promise.all(rest.map((w) => loadIn(w, shared)));
    this.plans.set(plan.name, shared);
    return first ?? results[0];
  }

  private chosen(on?: number[]): PoolWorker[] {
    return on ? this.workers.filter((w) => on.includes(w.index)) : this.workers;
  }

  /**
   * The worker where a copy on trial is measured while a model serves: the last one, which computes
   * batches that take every core only if the first worker is down (see infer), so a measurement
   * that blocks its worker (tfjs on wasm computes synchronously) holds up no answer.
   */
  get trialWorker(): number {
    return this.workers.length - 1;
  }

  /**
   * Loads `model` as it was loaded into every live worker that does not hold it yet, and runs `warm`
   * there once. With one session over every core a model serves from one worker, so only that one
   * loads it before readiness (two workers loading 100 MB models at once in one process slowed
   * each other); the others get it after, for failover, explanations and measurements.
   */
  async spread(model: string, warm: Float32Array): Promise<void> {
    const plan = this.plans.get(model);
    if (!plan) return;
    const held = this.holders.get(model) ?? new Set<number>();
    const missing = this.workers.filter((w) => w.available && !w.exited && !held.has(w.index));
    if (missing.length === 0) return;
    const on = missing.map((w) => w.index);
    await this.load(plan, on);
    await this.inferOnAll(model, warm, 1, on);
  }

  /** Whether batches of a model that computes on `threads` take every core (one worker serves them). */
  allCores(threads: number): boolean {
    return computeSlots(this.workers.length, threads) === 1 && this.workers.length > 1;
  }

  async unload(model: string): Promise<void> {
    this.plans.delete(model);
    this.holders.delete(model);
    await Promise.all(
      this.workers
        .filter((w) => !w.exited)
        .map((w) => w.request({ type: 'unload', model }).catch(() => undefined)),
    );
  }

  /**
   * Runs one packed batch (./batch-input.ts); its buffers are transferred, not copied, and the
   * worker makes the engine's input from them. Batches that fit the cores side by side go to the
   * least busy worker. When one batch takes every core, all such batches go to one worker, which
   * runs them one after another.
   */
  async infer(model: string, batch: PackedBatch, engine: EngineKind = 'tfjs'): Promise<Float32Array> {
    const threads = this.threadsPerBatch(engine, this.plans.get(model)?.threads);
    return this.batchOn(
      this.allCores(threads) ? this.live(model)[0] : this.pick(model),
      { type: 'infer', model, batch },
      batchTransfers(batch),
    );
  }

  /**
   * Grad-CAM maps for one packed batch (src/engines/gradcam-batch.ts), on the least busy worker;
   * `input` is transferred. The worker builds its tfjs copy of the model on its first such batch.
   */
  async explain(model: string, input: Float32Array, n: number): Promise<Float32Array> {
    return this.batchOn(this.pick(model), { type: 'explain', model, input, n }, [
      input.buffer as ArrayBuffer,
    ]);
  }

  /** One batch on `worker`, `transfer` given up, counted in the worker's load while it runs. */
  private async batchOn(
    worker: PoolWorker,
    msg:
      | { type: 'infer'; model: string; batch: PackedBatch }
      | { type: 'explain'; model: string; input: Float32Array; n: number },
    transfer: ArrayBuffer[],
  ): Promise<Float32Array> {
    worker.inFlight++;
    try {
      return await worker.request<Float32Array>(msg, transfer, this.options.hangTimeoutMs);
    } finally {
      worker.inFlight--;
    }
  }

  /** Runs the same batch on every worker (warm-up: first calls compile kernels and allocate). */
  async inferOnAll(model: string, input: Float32Array, n: number, on?: number[]): Promise<void> {
    await Promise.all(
      this.chosen(on).map((w) => w.request({ type: 'infer', model, batch: floatBatch(input.slice(), n) })),
    );
  }

  /**
   * Median milliseconds per batch of `n` on one worker (the first unless told; used to pick an
   * engine); stops after two runs when both took longer than `stopAboveMs`.
   */
  async time(
    model: string,
    input: Float32Array,
    n: number,
    runs: number,
    stopAboveMs?: number,
    worker = 0,
  ): Promise<EngineTiming> {
    const w = this.workers[worker];
    return w.request<EngineTiming>({ type: 'time', model, input, n, runs, stopAboveMs });
  }

  /**
   * Median milliseconds per batch of `n` on every worker at once (how copies that compute side by
   * side perform when they all do), one figure per worker.
   */
  async timeOnAll(model: string, input: Float32Array, n: number, runs: number): Promise<EngineTiming[]> {
    return Promise.all(
      this.live(model).map((w) =>
        w.request<EngineTiming>({ type: 'time', model, input: input.slice(), n, runs }),
      ),
    );
  }

  /** The ONNX graph of a model with its weights, built in a worker (counted as that worker's work). */
  async exportOnnx(plan: ModelPlan): Promise<Uint8Array> {
    const worker = this.pick();
    worker.inFlight++;
    try {
      return await worker.request<Uint8Array>({ type: 'export-onnx', plan });
    } finally {
      worker.inFlight--;
    }
  }

  /** tfjs memory per live worker; a worker that does not answer within 2 s is left out. */
  async memory(): Promise<WorkerMemory[]> {
    const live = this.workers.filter((w) => !w.exited);
    const answers = await Promise.all(
      live.map((w) =>
        Promise.race([
          w.request<WorkerMemory>({ type: 'memory' }).catch(() => undefined),
          new Promise<undefined>((resolve) => {
            const timer: NodeJS.Timeout = setTimeout(() => resolve(undefined), 2000);
            timer.unref();
          }),
        ]),
      ),
    );
    return answers.filter((a): a is WorkerMemory => a !== undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
