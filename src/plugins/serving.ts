/**
 * The serving core as decorators: the inference worker pool and the model registry. Models load in
 * the background after start-up, so liveness answers at once and readiness tells the truth.
 * On close the registry drains (queued and computing work finishes) before the workers stop.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { InferencePool } from '../engines/pool.js';
import { poolOptions } from '../serving/pool-options.js';
import { ModelRegistry } from '../serving/registry.js';
import { RepositoryWatcher } from '../serving/watcher.js';
import { DecodeScheduler } from '../serving/decode-scheduler.js';

declare module 'fastify' {
  interface FastifyInstance {
    models: ModelRegistry;
    pool: InferencePool;
    decoder: DecodeScheduler;
  }
}

export default fp(
  async function serving(app: FastifyInstance, options: { pool?: InferencePool }) {
    const c = app.config;
    // src/server.ts starts the pool before it loads the web framework; tests get one here.
    const pool = options.pool ?? new InferencePool(poolOptions(c));
    pool.onWorkerEvent = (e) =>
      e.state === 'restored'
        ? app.log.info(e, 'inference worker replaced')
        : app.log.error(e, 'inference worker down');
    const registry = new ModelRegistry(
      pool,
      {
        modelsDir: c.modelsDir,
        engine: c.engine,
        onnxThreadsFixed: c.onnxThreadsFixed,
        batchingFixed: c.batchingFixed,
        precision: c.precision,
        defaultModel: c.defaultModel,
        only: c.onlyModels,
        maxImagesPerRequest: c.maxImagesPerRequest,
        drainTimeoutMs: c.drainTimeoutMs,
        batching: {
          maxBatch: c.maxBatch,
          maxDelayMs: c.maxDelayMs,
          queueLimit: c.queueLimit,
          timeoutMs: c.requestTimeoutMs,
        },
        observer: (model) => {
          const metrics = app.hasDecorator('metrics') ? app.metrics.batchObserver(model) : {};
          // One debug line per executed batch: model, size and timings (never image data).
          return {
            ...metrics,
            batch(size, queueMs, computeMs) {
              metrics.batch?.(size, queueMs, computeMs);
              app.log.debug(
                {
                  model,
                  batchSize: size,
                  queueMsMax: Math.round(Math.max(...queueMs)),
                  computeMs: Math.round(computeMs),
                },
                'batch',
              );
            },
          };
        },
      },
      app.log,
    );
    app.decorate('pool', pool);
    app.decorate('models', registry);
    app.decorate('decoder', new DecodeScheduler(c.decodeConcurrency, c.decodeMemoryMb * 1024 * 1024));
    await registry.discover();
    pool.backend.then(
      (b) =>
        app.log.info(
          { backend: b.name, skipped: b.skipped, wasm: b.wasm, workers: pool.size, priority: pool.priority },
          'tfjs backend selected',
        ),
      (err) => app.log.error({ err }, 'no tfjs backend could start'),
    );
    // Under MODEL_CONTROL=poll, rescans start once the models found at start-up are loaded.
    const watcher =
      c.modelControl === 'poll' && c.modelPollS > 0
        ? new RepositoryWatcher(registry, c.modelsDir, c.modelPollS * 1000, app.log)
        : undefined;
    void registry.loadAll().then(() => {
      if (!registry.isStopped) watcher?.start();
    });
    // Draining: answers tell keep-alive clients to reconnect elsewhere, so server.close() is not held
    // open by idle connections; batchers stop taking new work while queued work still runs.
    app.addHook('onSend', async (_request, reply) => {
      if (app.draining) reply.header('connection', 'close');
    });
    app.addHook('preClose', async () => {
      await watcher?.stop();
      registry.stopLoading();
      registry.stopAccepting();
    });
    app.addHook('onClose', async () => {
      await registry.loadAll().catch(() => undefined);
      await registry.settled();
      await registry.drain(c.drainTimeoutMs);
      await pool.close();
    });
  },
  { name: 'serving', dependencies: [] },
);
