import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';

export const SERVED_FIXTURES = fileURLToPath(new URL('../fixtures/served/', import.meta.url));

/**
 * An app serving `modelsDir` with one worker, models loaded before it is returned. ONNX Runtime
 * unless a test asks otherwise: ENGINE=auto would serve with it too on these models, after timing
 * tfjs on each (seconds of CPU per app, for nothing the test looks at); tests of the choice itself
 * and of tfjs ask for their engine.
 */
export async function servingApp(overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  const app = await buildApp(
    testConfig({
      serveModels: true,
      workers: 1,
      modelsDir: SERVED_FIXTURES,
      engine: 'onnxruntime',
      // Batches wait MAX_DELAY_MS as configured: measuring whether batching pays would time every
      // model at batch 1 and 4 after readiness (seconds for the 224x224 fixtures) and could change
      // the wait under a test; test/serving/engine-choice.test.ts tests the measurement itself.
      batchingFixed: true,
      // Likewise ONNX Runtime's arrangement (measured only with two workers or more).
      onnxThreadsFixed: true,
      ...overrides,
    }),
  );
  await app.models.loadAll();
  return app;
}
