// READINESS: with one model that works and one that failed to load, `all` keeps the pod out of
// service (503) and `any` takes traffic for the model that works (200 "degraded", the failed one
// still listed); KServe's server readiness follows the same policy; no model ready is 503 either way.
import t from 'tap';
import type { FastifyInstance } from 'fastify';
import { readiness } from '../../routes/health/index.js';
import { servingApp } from '../helpers/app.js';

const models = ['small-h5', 'broken-truncated'];

for (const policy of ['all', 'any'] as const) {
  t.test(`READINESS=${policy} with one model ready and one failed`, async (t) => {
    const app = await servingApp({ onlyModels: models, readiness: policy });
    t.teardown(() => app.close());
    const ready = await app.inject('/health/ready');
    const kserve = await app.inject('/v2/health/ready');
    if (policy === 'all') {
      t.equal(ready.statusCode, 503);
      t.match(ready.json(), { status: 'not_ready' });
      t.equal(kserve.statusCode, 503);
    } else {
      t.equal(ready.statusCode, 200);
      t.match(ready.json(), { status: 'degraded' });
      t.equal(kserve.statusCode, 200);
    }
    const states = Object.fromEntries(
      (ready.json().models as { name: string; state: string }[]).map((m) => [m.name, m.state]),
    );
    t.same(states, { 'small-h5': 'ready', 'broken-truncated': 'failed' }, 'both listed either way');
  });
}

t.test('READINESS=any with no model ready is still 503', async (t) => {
  const app = await servingApp({ onlyModels: ['broken-truncated'], readiness: 'any' });
  t.teardown(() => app.close());
  const ready = await app.inject('/health/ready');
  t.equal(ready.statusCode, 503);
  t.match(ready.json(), { status: 'not_ready' });
});

t.test('READINESS=any waits for models still loading; only failed ones are excused', async (t) => {
  const states = (...list: string[]) => {
    const models = new Map(list.map((state, i) => [`m${i}`, { name: `m${i}`, state }]));
    return {
      draining: false,
      config: { readiness: 'any' },
      hasDecorator: (name: string) => name === 'models',
      models: { models, notReady: () => [...models.values()].filter((m) => m.state !== 'ready') },
    } as unknown as FastifyInstance;
  };
  t.match(readiness(states('ready', 'loading')), { ready: false, status: 'not_ready' });
  t.match(readiness(states('ready', 'warming', 'failed')), { ready: false, status: 'not_ready' });
  t.match(readiness(states('ready', 'failed')), { ready: true, status: 'degraded' });
  t.match(readiness(states('ready', 'ready')), { ready: true, status: 'ready' });
  t.match(readiness(states('failed')), { ready: false, status: 'not_ready' });
});
