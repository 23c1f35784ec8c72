// The event-loop lag is sampled every 50 ms rather than prom-client's 10 ms (src/plugins/metrics.ts:
// an idle loop woken 100 times a second cost 11 ms of CPU a second). A stall must still show.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const metric = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
};

t.test('a 150 ms stall of the event loop shows in nodejs_eventloop_lag_max_seconds', async (t) => {
  const app = await buildApp(testConfig({ serveModels: false }));
  t.teardown(() => app.close());
  await app.ready();
  // A first scrape resets the histogram, so the next one covers only what follows.
  await app.inject({ method: 'GET', url: '/metrics' });
  // The stall runs in a callback, as a slow request handler would.
  setTimeout(() => {
    const until = performance.now() + 150;
    while (performance.now() < until);
  }, 10);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stalled = metric(
    (await app.inject({ method: 'GET', url: '/metrics' })).body,
    'nodejs_eventloop_lag_max_seconds',
  );
  t.ok(stalled >= 0.1, `after the stall: max lag ${stalled} s`);
});
