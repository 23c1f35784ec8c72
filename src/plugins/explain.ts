/**
 * Grad-CAM explanations as a decorator: the explanation queues (src/serving/explainer.ts), apart from
 * the batching queues of plain classification, with metrics of their own. On close they stop taking
 * work, and what still computes may finish within DRAIN_TIMEOUT_MS.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ExplainService } from '../serving/explainer.js';

declare module 'fastify' {
  interface FastifyInstance {
    explainer: ExplainService;
  }
}

export default fp(
  async function explain(app: FastifyInstance) {
    const c = app.config;
    const service = new ExplainService(
      app.pool,
      {
        maxBatch: c.maxBatch,
        maxDelayMs: c.maxDelayMs,
        queueLimit: c.explainQueueLimit,
        timeoutMs: c.requestTimeoutMs,
      },
      (model) => (app.hasDecorator('metrics') ? app.metrics.explainObserver(model) : {}),
    );
    app.decorate('explainer', service);
    app.addHook('preClose', async () => service.close());
    // Requests are answered before onClose runs; a batch of a client that left may still compute.
    app.addHook('onClose', async () => {
      await Promise.race([service.idle(), new Promise((r) => setTimeout(r, c.drainTimeoutMs).unref())]);
    });
  },
  { name: 'explain', dependencies: ['serving'] },
);
