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
      ...overrides,
    }),
  );
  await app.models.loadAll();
  return app;
}
