/**
 * Dynamic batching for one model. Requests are queued image by image; a batch leaves when it holds
 * `maxBatch` images or when `maxDelayMs` has passed since the oldest queued request arrived, and only
 * while a worker is free (at most `concurrency` batches in flight). A caller may announce a request
 * before it is ready (expect(), while its images decode); a batch of announced requests only waits
 * for the window while another announced request is still on its way, since otherwise nothing can
 * join it and waiting would leave a core idle. The queue is bounded; a request
 * that does not fit is refused at once (503 + Retry-After), one whose deadline passes gets a 504, and
 * one whose client has gone is dropped before it is computed.
 */
import { AppError } from '../errors.js';
import { type BatchImage, type PackedBatch, packBatch } from '../engines/batch-input.js';

export interface BatchSettings {
  maxBatch: number;
  maxDelayMs: number;
  /** Most images waiting (not yet computing) at once. */
  queueLimit: number;
  /** Batches computing at once (the worker count). */
  concurrency: number;
  /** Per-request deadline, from arrival. */
  timeoutMs: number;
}

export interface JobTimings {
  queueMs: number;
  inferMs: number;
}

export interface BatchObserver {
  batch?(size: number, queueMs: number[], computeMs: number): void;
  rejected?(reason: 'queue_full' | 'timeout' | 'cancelled' | 'draining'): void;
  depth?(images: number): void;
}

/** Computes one packed batch (src/engines/batch-input.ts): logits, row-major [n, classes]. */
export type RunBatch = (batch: PackedBatch) => Promise<Float32Array>;

interface Job {
  /** Float inputs or 8-bit pixels; a batch may mix them (see src/engines/batch-input.ts). */
  images: BatchImage[];
  /** Announced with expect(): the batcher knows when no more such requests are coming. */
  announced: boolean;
  outputs: (Float32Array | undefined)[];
  remaining: number;
  arrived: number;
  queueMs: number;
  inferMs: number;
  settled: boolean;
  resolve: (r: { logits: Float32Array[]; timings: JobTimings }) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  cleanup?: () => void;
}

interface Slice {
  job: Job;
  index: number;
}

export class QueueFullError extends AppError {
  constructor(model: string, limit: number, retryAfterS: number) {
    super(
      503,
      'QUEUE_FULL',
      `model ${model}: the request queue is full (${limit} images waiting); retry after ${retryAfterS} s`,
      { model, queueLimit: limit, retryAfter: retryAfterS },
    );
  }
}

/** A request on its way (decoding): hand it to submit(), or cancel() it if it fails before that. */
export class Arrival {
  private open = true;
  constructor(private readonly onClose: (cancelled: boolean) => void) {}

  cancel(): void {
    this.close(true);
  }

  /** Submitted or cancelled; only the first call counts. */
  close(cancelled: boolean): void {
    if (!this.open) return;
    this.open = false;
    this.onClose(cancelled);
  }
}

export class Batcher {
  private readonly queue: Slice[] = [];
  private inFlight = 0;
  /** Images announced by expect() and not yet submitted or cancelled. */
  private incoming = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private refusal = 'the server is shutting down and takes no new work';
  private idleWaiters: (() => void)[] = [];
  private settledWaiters: (() => void)[] = [];

  constructor(
    readonly model: string,
    private readonly settings: BatchSettings,
    private readonly run: RunBatch,
    private readonly elementsPerImage: number,
    private readonly classes: number,
    private readonly observer: BatchObserver = {},
  ) {}

  /**
   * Batches allowed in flight from now on: the engine serving the model changed (ENGINE=auto's
   * measurement after warm-up, src/serving/engine-choice.ts), and with it how many fit the cores.
   */
  setConcurrency(batches: number): void {
    this.settings.concurrency = batches;
    this.schedule();
  }

  /** How long a batch may wait for more images from now on (0: it leaves with what is queued). */
  setMaxDelay(ms: number): void {
    this.settings.maxDelayMs = ms;
    this.schedule();
  }

  /** The most images a batch takes from now on (a request's images may then span batches). */
  setMaxBatch(images: number): void {
    this.settings.maxBatch = images;
    this.schedule();
  }

  get queuedImages(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.queue.length > 0 || this.inFlight > 0;
  }

  /** Resolves when nothing is queued or computing (for a graceful drain). */
  idle(): Promise<void> {
    return this.busy ? new Promise((r) => this.idleWaiters.push(r)) : Promise.resolve();
  }

  /**
   * Resolves when nothing is queued, computing or announced: every request that chose this batcher
   * has been answered (a retired model version is unloaded only then).
   */
  settled(): Promise<void> {
    return this.busy || this.incoming > 0
      ? new Promise((r) => this.settledWaiters.push(r))
      : Promise.resolve();
  }

  /** Announces a request of `images` images that will be submitted soon (its images are decoding). */
  expect(images: number): Arrival {
    this.incoming += images;
    return new Arrival((cancelled) => {
      this.incoming -= images;
      // A batch may have been waiting for this request only.
      if (cancelled) this.schedule();
      this.notifyIdle();
    });
  }

  /**
   * Queues the images of one request; resolves with one logits row per image, in order. `arrival`
   * is the announcement from expect(), if the request was announced.
   */
  submit(
    images: BatchImage[],
    signal?: AbortSignal,
    arrival?: Arrival,
  ): Promise<{ logits: Float32Array[]; timings: JobTimings }> {
    if (this.closed) {
      arrival?.cancel(); // a batch waiting for this request need not wait any longer
      this.observer.rejected?.('draining');
      return Promise.reject(new AppError(503, 'DRAINING', this.refusal, { retryAfter: 1 }));
    }
    if (this.queue.length + images.length > this.settings.queueLimit) {
      arrival?.cancel();
      this.observer.rejected?.('queue_full');
      return Promise.reject(
        new QueueFullError(this.model, this.settings.queueLimit, this.retryAfterSeconds()),
      );
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        images,
        announced: arrival !== undefined,
        outputs: new Array(images.length),
        remaining: images.length,
        arrived: performance.now(),
        queueMs: 0,
        inferMs: 0,
        settled: false,
        resolve,
        reject,
      };
      job.timer = setTimeout(
        () =>
          this.fail(
            job,
            new AppError(
              504,
              'DEADLINE_EXCEEDED',
              `model ${this.model}: no result within ${this.settings.timeoutMs} ms`,
              { timeoutMs: this.settings.timeoutMs },
            ),
            'timeout',
          ),
        this.settings.timeoutMs,
      );
      if (signal) {
        const onAbort = () =>
          this.fail(job, new AppError(499, 'CLIENT_CLOSED', 'the client closed the connection'), 'cancelled');
        if (signal.aborted) {
          arrival?.cancel();
          return onAbort();
        }
        signal.addEventListener('abort', onAbort, { once: true });
        job.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      for (let index = 0; index < images.length; index++) this.queue.push({ job, index });
      arrival?.close(false); // no longer on its way: it is in the queue
      this.observer.depth?.(this.queue.length);
      this.schedule();
    });
  }

  /** Stops taking work, refused with `refusal` (503 DRAINING); what is queued still runs. */
  close(refusal?: string): void {
    this.closed = true;
    if (refusal) this.refusal = refusal;
  }

  private retryAfterSeconds(): number {
    return Math.max(
      1,
      Math.ceil((this.queue.length / this.settings.maxBatch / this.settings.concurrency) * 0.5),
    );
  }

  private fail(job: Job, err: Error, reason: 'timeout' | 'cancelled'): void {
    if (job.settled) return;
    this.settle(job);
    // Queued images of this job are dropped, not computed.
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].job === job) this.queue.splice(i, 1);
    this.observer.rejected?.(reason);
    this.observer.depth?.(this.queue.length);
    job.reject(err);
    this.notifyIdle();
  }

  private settle(job: Job): void {
    job.settled = true;
    clearTimeout(job.timer);
    job.cleanup?.();
  }

  private schedule(): void {
    while (this.inFlight < this.settings.concurrency && this.queue.length > 0) {
      const oldest = this.queue[0].job.arrived;
      const waited = performance.now() - oldest;
      // Nothing more can join when every queued request was announced and none is on its way.
      const mayGrow = this.incoming > 0 || this.queue.some((s) => !s.job.announced);
      if (this.queue.length < this.settings.maxBatch && waited < this.settings.maxDelayMs && mayGrow) {
        if (!this.timer) {
          this.timer = setTimeout(
            () => {
              this.timer = undefined;
              this.schedule();
            },
            Math.max(0, this.settings.maxDelayMs - waited),
          );
        }
        return;
      }
      // A wait that ended early (the batch filled, or nothing more was coming) leaves no timer behind.
      clearTimeout(this.timer);
      this.timer = undefined;
      this.dispatch(this.queue.splice(0, this.settings.maxBatch));
    }
  }

  private dispatch(slices: Slice[]): void {
    this.inFlight++;
    this.observer.depth?.(this.queue.length);
    const n = slices.length;
    const started = performance.now();
    const queueMs = slices.map((s) => started - s.job.arrived);
    const images = slices.map((s) => s.job.images[s.index]);
    // Packed inside the chain: an image that does not fit the model fails its batch (which then
    // frees its slot below) instead of throwing out of schedule().
    const batch = Promise.resolve().then(() => this.run(packBatch(images, this.elementsPerImage)));
    batch
      .then(
        (logits) => {
          const inferMs = performance.now() - started;
          this.observer.batch?.(n, queueMs, inferMs);
          slices.forEach((s, i) => {
            const job = s.job;
            if (job.settled) return;
            job.outputs[s.index] = logits.slice(i * this.classes, (i + 1) * this.classes);
            job.queueMs = Math.max(job.queueMs, started - job.arrived);
            job.inferMs = Math.max(job.inferMs, inferMs);
            if (--job.remaining === 0) {
              this.settle(job);
              job.resolve({
                logits: job.outputs as Float32Array[],
                timings: { queueMs: job.queueMs, inferMs: job.inferMs },
              });
            }
          });
        },
        (err: Error) => {
          for (const s of slices) {
            if (s.job.settled) continue;
            this.settle(s.job);
            for (let i = this.queue.length - 1; i >= 0; i--)
              if (this.queue[i].job === s.job) this.queue.splice(i, 1);
            s.job.reject(err);
          }
          this.observer.depth?.(this.queue.length);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.schedule();
        this.notifyIdle();
      });
  }

  private notifyIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    if (this.incoming > 0) return;
    const settled = this.settledWaiters;
    this.settledWaiters = [];
    for (const w of settled) w();
  }
}
