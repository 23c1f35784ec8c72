/** The inference pool's settings from the service's config (one place: the server and the serving plugin). */
import type { Config } from '../config.js';
import type { PoolOptions } from '../engines/pool.js';

export function poolOptions(c: Config): PoolOptions {
  return {
    size: c.workers,
    backend: c.tfjsBackend,
    onnxThreads: c.onnxThreads,
    wasmThreads: c.wasmThreads,
    nice: c.backgroundNice,
    // A batch still unanswered well past the request deadline means a hung worker: replace it.
    hangTimeoutMs: 2 * c.requestTimeoutMs,
  };
}
