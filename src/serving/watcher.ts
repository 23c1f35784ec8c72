/**
 * Hot reload under MODEL_CONTROL=poll: MODELS_DIR is rescanned every MODEL_POLL_S seconds and soon
 * after a file-system event in it. A scan that finds a version still changing asks for another one
 * SETTLE_MS later, so a finished copy is loaded about a second after it lands, not a poll later.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { ModelRegistry } from './registry.js';
import { SETTLE_MS } from './versions.js';
/** Events come in bursts (a copy writes many times): one scan after the burst is enough. */
const EVENT_DEBOUNCE_MS = 200;

export class RepositoryWatcher {
  private poll: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private events: FSWatcher | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly modelsDir: string,
    private readonly pollMs: number,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    this.poll = setInterval(() => void this.scan(), this.pollMs);
    this.poll.unref();
    try {
      // Recursive, so weights landing in a version folder count too; the poll covers file systems
      // without events (NFS, some container mounts).
      this.events = watch(this.modelsDir, { recursive: true }, () => this.scanSoon(EVENT_DEBOUNCE_MS));
      this.events.on('error', (err) => {
        this.log.warn({ err: err.message }, 'models folder events stopped; polling only');
        this.events?.close();
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'models folder events unavailable; polling only');
    }
  }

  private scanSoon(delayMs: number): void {
    if (this.stopped || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.scan();
    }, delayMs);
    this.soon.unref();
  }

  /** One scan at a time; a scan asked for meanwhile is covered by the settle follow-up or the next poll. */
  private scan(): Promise<void> {
    this.scanning ??= this.registry
      .rescan()
      .then(
        ({ unsettled }) => {
          if (unsettled) this.scanSoon(SETTLE_MS);
        },
        (err: Error) => this.log.error({ err: err.message }, 'models folder rescan failed'),
      )
      .finally(() => {
        this.scanning = undefined;
      });
    return this.scanning;
  }

  /** Stops watching; resolves once a scan under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.soon);
    this.events?.close();
    await this.scanning;
  }
}
