/**
 * Health: liveness says the process turns; readiness says every configured model is loaded and
 * warmed up and the server is not draining. A 503 names what is not ready.
 */
import type { FastifyInstance } from 'fastify';

export interface Readiness {
  ready: boolean;
  reason?: string;
  status: 'ready' | 'not_ready' | 'draining';
  models: { name: string; state: string; error?: string }[];
}

export function readiness(app: FastifyInstance): Readiness {
  if (app.draining) return { ready: false, status: 'draining', models: [] };
  const notReady = app.hasDecorator('models') ? app.models.notReady() : [];
  if (app.hasDecorator('pool') && app.pool.liveWorkers === 0) {
    return { ready: false, status: 'not_ready', models: notReady, reason: 'no inference worker is running' };
  }
  return notReady.length ? { ready: false, status: 'not_ready', models: notReady } : { ready: true, status: 'ready', models: [] };
}

const healthBody = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    models: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, state: { type: 'string' }, error: { type: 'string' } } } },
    reason: { type: 'string' },
    backend: { type: 'string' },
    workers: { type: 'object', properties: { live: { type: 'integer' }, size: { type: 'integer' } } },
  },
};

export default async function healthRoutes(app: FastifyInstance) {
  app.get('/health/live', {
    schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
  }, async () => ({ status: 'live' }));

  app.get('/health/ready', { schema: { response: { 200: healthBody, 503: healthBody } } }, async (_request, reply) => {
    const r = readiness(app);
    const backend = app.hasDecorator('pool') ? (await app.pool.backend.catch(() => undefined))?.name : undefined;
    reply.code(r.ready ? 200 : 503);
    if (!r.ready) reply.header('retry-after', '1');
    return {
      status: r.status, models: r.models, ...(r.reason ? { reason: r.reason } : {}), ...(backend ? { backend } : {}),
      ...(app.hasDecorator('pool') ? { workers: { live: app.pool.liveWorkers, size: app.pool.size } } : {}),
    };
  });
}
