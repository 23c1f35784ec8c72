/**
 * Entry point: read the config, build the app, listen, and drain on SIGTERM/SIGINT:
 * readiness turns 503 at once, new connections are refused, in-flight and queued requests finish
 * (up to DRAIN_TIMEOUT_MS), then the process exits 0. A second signal, or a drain that overruns its
 * deadline, exits 1.
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from './config.js';
import { InferencePool } from './engines/pool.js';
import { poolOptions } from './serving/pool-options.js';
import { hardDeadlineMs } from './shutdown.js';
import { helperNice, yieldHelperThreads } from './thread-priority.js';

/** A bad setting (a variable, a missing MODELS_DIR) stops the start with a message naming it. */
async function start(): Promise<{ config: Config; app: FastifyInstance }> {
  try {
    const config = loadConfig();
    // The inference workers start their engines (ONNX Runtime, tfjs' wasm: ~0.8 s) while this thread
    // loads the web framework, instead of after it: models start loading that much sooner.
    const pool = config.serveModels ? new InferencePool(poolOptions(config)) : undefined;
    const { buildApp } = await import('./app.js');
    return { config, app: await buildApp(config, { pool }) };
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`convnet-serve: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

async function main(): Promise<void> {
  const { config, app } = await start();
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) {
      app.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    app.draining = true;
    app.log.info(
      { signal, drainTimeoutMs: config.drainTimeoutMs },
      'draining: readiness is 503, finishing in-flight work',
    );
    const deadline = setTimeout(() => {
      app.log.error('drain deadline passed with work still running; exiting 1');
      process.exit(1);
    }, hardDeadlineMs(config));
    deadline.unref();
    setTimeout(() => {
      // Node closes only the keep-alive connections idle at the moment close() is called; one whose
      // response is still being written goes idle later and would hold close() open until its
      // keep-alive timeout. Sweep idle connections until the close completes.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 200);
      app.close().then(
        () => {
          clearInterval(sweep);
          app.log.info('drained; bye');
          process.exit(0);
        },
        (err) => {
          app.log.error({ err }, 'error while closing');
          process.exit(1);
        },
      );
    }, config.shutdownDelayMs);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
  // Route schemas no request has needed yet are compiled once the models are loaded (model loads
  // need the cores first; see src/plugins/deferred-schemas.ts).
  void (config.serveModels ? app.models.loadAll() : Promise.resolve())
    .then(() => app.log.debug({ compiled: app.compilePendingSchemas() }, 'route schemas compiled'))
    .catch((err) => app.log.error({ err }, 'a route schema does not compile'));
  // The event loop (its thread id is the pid) and the health thread answer first; the helper threads
  // (image decoding) yield to them. Swept again now and then for threads created since.
  const keep = [process.pid, ...(app.healthThreadId === undefined ? [] : [app.healthThreadId])];
  const nice = helperNice(config.backgroundNice);
  const changed = yieldHelperThreads(keep, nice);
  app.log.debug({ changed, nice }, 'helper threads yield to the event loop and the health thread');
  setInterval(() => yieldHelperThreads(keep, nice), HELPER_SWEEP_MS).unref();
}

/** Threads created after start-up (libvips grows its pool on demand) inherit their creator's nice value
 * already; the sweep catches the rest. */
const HELPER_SWEEP_MS = 10_000;

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
