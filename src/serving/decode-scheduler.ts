/**
 * Decoding shared fairly between requests: at most `concurrency` decodes at once and at most
 * `memoryBytes` of decoder memory in flight (each decode's estimate, from decode-cost.ts). When a slot
 * frees, the request that has been served the least decode cost goes next, so one client's 32-image
 * request delays another's single image by at most one image's decode.
 */
import { AppError } from '../errors.js';

interface Task {
  cost: number;
  memoryBytes: number;
  start: () => void;
  /** Whether the client left: the task is dropped instead of decoded. */
  abandoned: () => boolean;
  drop: () => void;
}

/** One request's place in the scheduler. */
export class DecodeSession {
  /** Decode cost started for this request so far (what fairness compares). */
  served = 0;
  readonly pending: Task[] = [];

  constructor(
    private readonly scheduler: DecodeScheduler,
    readonly arrival: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** Runs `decode` when the scheduler gives this request its turn. */
  run<T>(cost: number, memoryBytes: number, decode: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const task: Task = {
        cost,
        memoryBytes,
        start: () => {
          decode()
            .then(resolve, reject)
            .finally(() => this.scheduler.finished(task));
        },
        abandoned: () => this.signal?.aborted === true,
        // 499, as nginx logs it: nobody reads this answer, and it is not the service's failure.
        drop: () =>
          reject(new AppError(499, 'CLIENT_CLOSED_REQUEST', 'the client left before its image was decoded')),
      };
      this.pending.push(task);
      this.scheduler.enqueue(this);
    });
  }
}

export class DecodeScheduler {
  private running = 0;
  private memoryInUse = 0;
  private arrivals = 0;
  private readonly waiting = new Set<DecodeSession>();

  constructor(
    readonly concurrency: number,
    readonly memoryBytes: number,
  ) {}

  /** A handle for one request's images; `signal` drops its waiting decodes when the client leaves. */
  session(signal?: AbortSignal): DecodeSession {
    return new DecodeSession(this, this.arrivals++, signal);
  }

  get load(): { running: number; waiting: number; memoryBytes: number } {
    let waiting = 0;
    for (const s of this.waiting) waiting += s.pending.length;
    return { running: this.running, waiting, memoryBytes: this.memoryInUse };
  }

  enqueue(session: DecodeSession): void {
    this.waiting.add(session);
    this.pump();
  }

  finished(task: Task): void {
    this.running--;
    this.memoryInUse -= task.memoryBytes;
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const next = this.nextSession();
      if (!next) return;
      const task = next.pending[0];
      if (task.abandoned()) {
        next.pending.shift();
        if (next.pending.length === 0) this.waiting.delete(next);
        task.drop();
        continue;
      }
      // Memory: wait for decodes to finish, unless none runs (a single image within the per-image
      // bound always gets its turn).
      if (this.running > 0 && this.memoryInUse + task.memoryBytes > this.memoryBytes) return;
      next.pending.shift();
      if (next.pending.length === 0) this.waiting.delete(next);
      next.served += task.cost;
      this.running++;
      this.memoryInUse += task.memoryBytes;
      task.start();
    }
  }

  /** The waiting request served the least so far; the earlier arrival on a tie. */
  private nextSession(): DecodeSession | undefined {
    let best: DecodeSession | undefined;
    for (const s of this.waiting) {
      if (!best || s.served < best.served || (s.served === best.served && s.arrival < best.arrival)) best = s;
    }
    return best;
  }
}
