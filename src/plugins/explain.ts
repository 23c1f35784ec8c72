/**
 * Grad-CAM explanations as a decorator: the explanation queues (src/serving/explainer.ts), apart from
 * the batching queues of plain classification, with metrics of their own. On close they stop taking
 * work and drain before the serving plugin stops the workers.
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
    // Registered after serving, so this runs before serving's onClose stops the workers.
    app.addHook('onClose', async () => {
      await Promise.race([service.idle(), new Promise((r) => setTimeout(r, c.drainTimeoutMs).unref())]);
    });
  },
  { name: 'explain', dependencies: ['serving'] },
);
