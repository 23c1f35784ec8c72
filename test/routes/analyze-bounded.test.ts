// /analyze cannot starve the service: analyses run in a worker thread behind a bounded queue, with a
// time and a memory budget, and long reports are paged. Over a real socket on 127.0.0.1. Nothing here
// is timed: "health answers while analyses run" is checked by the order in which answers arrive.
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';
import { analyzeTarget } from '../../src/services/analysis.js';
import { serverProcess } from '../helpers/server-process.js';

/** 19,999 leaf layers from a 300-byte spec: about a second of analysis and an 11 MB report (the load test's abuse phase sends the same file). */
const HEAVY = JSON.parse(
  readFileSync(new URL('../fixtures/specs/heavy-19999-layers.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

async function serve(
  t: Test,
  overrides: Partial<Config> = {},
): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildApp(testConfig(overrides));
  await app.listen({ host: '127.0.0.1', port: 0 });
  // Every answer has been read by the time a test ends; fetch's pooled keep-alive sockets are
  // closed here rather than left for the server's close to wait out (it waited 70 s in 1 run of 3
  // under tap, for sockets idle by then).
  t.teardown(() => {
    app.server.closeAllConnections();
    return app.close();
  });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { app, url: `http://127.0.0.1:${address.port}` };
}

/**
 * A POST on a connection of its own, sent at once (fetch may queue requests to one origin behind each
 * other, which would hide whether the server answers while busy). Resolves when the head arrives.
 */
function postOwnConnection(url: string, body: unknown): Promise<{ status: number; rest: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/analyze`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        const rest = new Promise<void>((done) => res.on('end', done).resume());
        resolve({ status: res.statusCode ?? 0, rest });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const post = (url: string, body: unknown, query = '') =>
  fetch(`${url}/analyze${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

t.test('health answers while heavy analyses run', async (t) => {
  // The server in its own process: a client sharing its event loop would wait with it.
  const { url } = await serverProcess(t, { SERVE_MODELS: 'false' });
  const order: string[] = [];
  const bodies: Promise<void>[] = [];
  let firstAnswered: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    firstAnswered = resolve;
  });
  const analyses = Array.from({ length: 4 }, () =>
    postOwnConnection(url, HEAVY).then((res) => {
      order.push(`analysis: ${res.status}`);
      bodies.push(res.rest);
      firstAnswered();
    }),
  );
  // Once one analysis has answered, the others are being read or run. On the event loop, the next one
  // would hold it until done and health would answer after it; in the worker, health answers at once.
  await first;
  const live = await fetch(`${url}/health/live`);
  order.push(`live: ${live.status}`);
  await Promise.all(analyses);
  await Promise.all(bodies);
  t.same(order.slice(0, 2), ['analysis: 200', 'live: 200'], `health answered next (${order.join(', ')})`);
  t.same(order.filter((o) => o.startsWith('analysis')).length, 4, 'every analysis answered');
});

t.test('a full queue answers 503 with Retry-After; nothing is lost', async (t) => {
  const { url } = await serve(t, { analyzeQueue: 1 });
  const answers = await Promise.all(
    Array.from({ length: 5 }, () =>
      post(url, HEAVY).then(async (res) => {
        // Read every answer to its end: an 11 MB report left unread holds its connection, and the
        // server's close waits for it.
        let body: Record<string, unknown> | undefined;
        if (res.status === 200) await res.arrayBuffer();
        else body = (await res.json()) as Record<string, unknown>;
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
      }),
    ),
  );
  const statuses = answers.map((a) => a.status);
  t.ok(
    statuses.every((s) => s === 200 || s === 503),
    `every request answered 200 or 503 (${statuses.join(', ')})`,
  );
  t.ok(statuses.includes(200), 'some were analysed');
  const busy = answers.filter((a) => a.status === 503);
  t.ok(busy.length >= 1, 'some were refused');
  for (const b of busy) {
    t.equal(b.retryAfter, '1');
    t.match(b.body, { code: 'ANALYZE_BUSY', message: /ANALYZE_QUEUE/ });
  }
  const after = await post(url, { model: 'resnet18' });
  t.equal(after.status, 200, 'still serving');
});

t.test('an analysis past its time budget is stopped with a 413, and the next one runs', async (t) => {
  const { url } = await serve(t, { analyzeTimeoutMs: 50 });
  const res = await post(url, HEAVY);
  t.equal(res.status, 413);
  t.match(await res.json(), {
    code: 'ANALYSIS_TOO_COSTLY',
    field: 'body',
    message: /50 ms \(ANALYZE_TIMEOUT_MS\)/,
  });
  const small = await post(url, {
    spec: { input: [8, 8, 3], layers: [{ kind: 'conv2d', filters: 2, kernel: 1 }] },
  });
  t.equal(small.status, 200, 'a new worker took the stopped one’s place');
});

t.test('client errors from the worker keep their status, code and field', async (t) => {
  const { url } = await serve(t);
  const res = await post(url, {
    spec: { input: [8, 8, 3], layers: [{ kind: 'conv2d', filters: 2, kernel: 99 }] },
  });
  t.equal(res.status, 400);
  t.match(await res.json(), { code: 'SHAPE_MISMATCH', field: /^spec\.layers\[0\]/ });
  const unknown = await post(url, { model: 'resnet5O' });
  t.equal(unknown.status, 404);
  t.match(await unknown.json(), { code: 'UNKNOWN_MODEL', suggestions: ['resnet50'] });
});

t.test('long reports are paged; pages put together are the whole report', async (t) => {
  const { url } = await serve(t, { analyzeMaxResponseLayers: 100 });
  const full = analyzeTarget({ model: 'resnet50' });
  t.ok(full.layers.length > 100, `resnet50 has ${full.layers.length} layers`);

  const first = (await (await post(url, { model: 'resnet50' })).json()) as typeof full & {
    layersPage: { offset: number; limit: number; returned: number; total: number; next?: number };
  };
  t.same(first.layersPage, { offset: 0, limit: 100, returned: 100, total: full.layers.length, next: 100 });
  t.same(first.totals, full.totals, 'totals are of the whole network');

  const rows = [...first.layers];
  let next = first.layersPage.next;
  while (next !== undefined) {
    const page = (await (
      await post(url, { model: 'resnet50' }, `?offset=${next}&limit=100`)
    ).json()) as typeof first;
    rows.push(...page.layers);
    next = page.layersPage.next;
  }
  t.same(rows, full.layers, 'every row once, in order');

  const none = (await (await post(url, { model: 'resnet50' }, '?layers=none')).json()) as typeof first;
  t.same(none.layers, []);
  t.same(none.layersPage, { offset: 0, limit: 0, returned: 0, total: full.layers.length });
  t.same(none.bottlenecks, full.bottlenecks, 'the block reports stay');

  const small = (await (await post(url, { model: 'resnet18' }, '?limit=100')).json()) as typeof first;
  t.equal(small.layersPage, undefined, 'a report that fits carries no page');

  const tooMany = await post(url, { model: 'resnet50' }, '?limit=101');
  t.equal(tooMany.status, 400);
  t.match(await tooMany.json(), {
    field: 'limit',
    message: /at most 100 layer rows \(ANALYZE_MAX_RESPONSE_LAYERS\)/,
  });
});

t.test('with ANALYZE_WORKERS=0 analyses run inline and answer the same', async (t) => {
  const { url } = await serve(t, { analyzeWorkers: 0 });
  const res = await post(url, { model: 'resnet18' });
  t.equal(res.status, 200);
  t.same(((await res.json()) as { totals: unknown }).totals, analyzeTarget({ model: 'resnet18' }).totals);
});
