/**
 * Profiles of served models, one at a time: a second request while one runs is refused with 429
 * and Retry-After rather than queued, since two profiles at once would each time the other's load.
 * The profile runs in a thread of its own on the model's weights file (src/engines/profile), so the
 * serving workers keep serving; its time is bounded by `timeoutMs`.
 */
import { profileReport, type ProfileReport } from '../analysis/profile.js';
import type { LayerRow } from '../analysis/report-types.js';
import { ProfileTimeoutError, profileInWorker } from '../engines/profile/in-worker.js';
import type { ProfileOptions } from '../engines/profile/options.js';
import type { EngineKind, WorkerInit } from '../engines/types.js';
import { AppError } from '../errors.js';
import type { Graph } from '../spec/types.js';

/** What is profiled: a served model's graph, its analysis rows and its weights file. */
export interface ProfileTarget {
  name: string;
  graph: Graph;
  layers: LayerRow[];
  weightsPath: string;
  engine: EngineKind;
}

/** Seconds a refused client is told to wait: profiles of the default models take a second or two. */
export const PROFILE_RETRY_AFTER_S = 2;

export class ProfileService {
  private running: string | undefined;

  constructor(
    private readonly init: WorkerInit,
    private readonly timeoutMs: number,
  ) {}

  async run(target: ProfileTarget, options: ProfileOptions, signal?: AbortSignal): Promise<ProfileReport> {
    if (this.running !== undefined) {
      throw new AppError(
        429,
        'PROFILE_RUNNING',
        `profile: one profile runs at a time and one of ${this.running} is running; retry after ${PROFILE_RETRY_AFTER_S} s`,
        { field: 'profile', running: this.running, retryAfter: PROFILE_RETRY_AFTER_S },
      );
    }
    this.running = target.name;
    try {
      const plan = {
        name: target.name,
        graph: target.graph,
        weightsPath: target.weightsPath,
        engine: target.engine,
      };
      const timings = await profileInWorker({ plan, options, init: this.init }, this.timeoutMs, signal);
      // Named as served (the graph keeps its architecture's name).
      return { ...profileReport(target.graph, target.layers, timings), model: target.name };
    } catch (err) {
      if (err instanceof ProfileTimeoutError) {
        throw new AppError(
          504,
          'PROFILE_TIMEOUT',
          `profile: ${options.runs} runs of ${target.name} did not finish within ${err.timeoutMs} ms (PROFILE_TIMEOUT_MS); ask for fewer runs`,
          { field: 'profile.runs', received: options.runs },
        );
      }
      throw err;
    } finally {
      this.running = undefined;
    }
  }
}
