import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';

export const SERVED_FIXTURES = fileURLToPath(new URL('../fixtures/served/', import.meta.url));

/** An app serving `modelsDir` with one worker, models loaded before it is returned. */
export async function servingApp(overrides: Partial<Config> = {}): Promise<FastifyInstance> {
  const app = await buildApp(
    testConfig({ serveModels: true, workers: 1, modelsDir: SERVED_FIXTURES, ...overrides }),
  );
  await app.models.loadAll();
  return app;
}
