/**
 * Health: liveness says the process turns; readiness says every configured model is loaded and
 * warmed up and the server is not draining. Both answers list every model with its state, engine
 * and the backend that computes it; a 503 names what is not ready.
 */
import type { FastifyInstance } from 'fastify';
import { servingBackend } from '../../src/serving/registry.js';
import { liveResponseExamples, readyResponseExamples } from './examples.js';

interface ModelHealth {
  name: string;
  state: string;
  engine: string;
  /** What computes it: onnxruntime-cpu, or the tfjs backend (tensorflow, wasm, cpu). */
  backend: string | null;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  reason?: string;
  /** `degraded`: ready under READINESS=any while some models are not. */
  status: 'ready' | 'degraded' | 'not_ready' | 'draining';
  /** The models that are not ready (under READINESS=all, those that keep the service from being ready). */
  notReady: { name: string; state: string; error?: string }[];
}

export function readiness(app: FastifyInstance): Readiness {
  if (app.draining) return { ready: false, status: 'draining', notReady: [] };
  const notReady = app.hasDecorator('models') ? app.models.notReady() : [];
  if (app.hasDecorator('pool') && app.pool.liveWorkers === 0) {
    return { ready: false, status: 'not_ready', notReady, reason: 'no inference worker is running' };
  }
  if (notReady.length === 0) return { ready: true, status: 'ready', notReady: [] };
  // READINESS=any: a model that failed to load does not hold back the ones that work (they are
  // listed, not hidden); models still loading do, so a new pod takes traffic only once every model
  // that can load has.
  const total = app.hasDecorator('models') ? app.models.models.size : 0;
  const onlyFailed = notReady.every((m) => m.state === 'failed');
  if (app.config.readiness === 'any' && onlyFailed && notReady.length < total) {
    return { ready: true, status: 'degraded', notReady };
  }
  return { ready: false, status: 'not_ready', notReady };
}

function modelHealth(app: FastifyInstance): ModelHealth[] {
  if (!app.hasDecorator('models')) return [];
  return [...app.models.models.values()].map((m) => ({
    name: m.name,
    state: m.state,
    engine: m.engine,
    backend: m.state === 'failed' ? null : servingBackend(m),
    ...(m.error ? { error: m.error } : {}),
  }));
}

/** GET /health/ready's status and body; the health port (src/plugins/health-port.ts) publishes the same. */
export async function readyAnswer(
  app: FastifyInstance,
): Promise<{ statusCode: 200 | 503; body: Record<string, unknown> }> {
  const r = readiness(app);
  const tfjsBackend = app.hasDecorator('pool')
    ? (await app.pool.backend.catch(() => undefined))?.name
    : undefined;
  return {
    statusCode: r.ready ? 200 : 503,
    body: {
      status: r.status,
      models: modelHealth(app),
      ...(r.reason ? { reason: r.reason } : {}),
      ...(tfjsBackend ? { tfjsBackend } : {}),
      ...(app.hasDecorator('pool') ? { workers: { live: app.pool.liveWorkers, size: app.pool.size } } : {}),
    },
  };
}

const healthBody = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          state: { type: 'string' },
          engine: { type: 'string' },
          backend: { type: ['string', 'null'] },
          error: { type: 'string' },
        },
      },
    },
    reason: { type: 'string' },
    tfjsBackend: {
      type: 'string',
      description: 'The TensorFlow.js backend the workers run (for models served by the tfjs engine)',
    },
    workers: { type: 'object', properties: { live: { type: 'integer' }, size: { type: 'integer' } } },
  },
};

export default async function healthRoutes(app: FastifyInstance) {
  app.get(
    '/health/live',
    {
      config: { probe: true },
      schema: {
        tags: ['health'],
        summary: 'Liveness',
        description:
          'The process is up and answering, whether or not its models are loaded yet: for a liveness probe. Readiness is GET /health/ready.',
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string' } },
            'x-examples': liveResponseExamples,
          },
        },
      },
    },
    async () => ({ status: 'live' }),
  );

  app.get(
    '/health/ready',
    {
      config: { probe: true },
      schema: {
        tags: ['health'],
        summary: 'Readiness',
        description:
          'Every configured model is loaded and warmed up, an inference worker runs, and the service is not draining. A 503 (with Retry-After) names what is not ready. Both answers list every model with its state, engine and backend.',
        response: {
          200: { ...healthBody, 'x-examples': readyResponseExamples },
          503: { ...healthBody, description: 'Not ready: loading, a model failed, no worker, or draining' },
        },
      },
    },
    async (_request, reply) => {
      const { statusCode, body } = await readyAnswer(app);
      reply.code(statusCode);
      if (statusCode !== 200) reply.header('retry-after', '1');
      return body;
    },
  );
}
