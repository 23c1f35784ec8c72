// HEALTH_PORT over real sockets: probes answered by their own thread, promptly while the event loop
// is blocked, 503 once it has been stalled past LIVENESS_STALL_MS, readiness that follows the main
// port and the drain, and nothing else served there.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig, testConfig } from '../../src/config.js';

const STALL_MS = 400;
const app = await buildApp(testConfig({ healthPort: 0, livenessStallMs: STALL_MS }));
t.teardown(() => app.close());
const port = app.healthPort as number;
const url = (path: string) => `http://127.0.0.1:${port}${path}`;

async function until(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

t.test('not ready before the main port listens; ready after; live throughout', async (t) => {
  t.equal((await fetch(url('/health/live'))).status, 200);
  const before = await fetch(url('/health/ready'));
  t.equal(before.status, 503);
  t.equal(before.headers.get('retry-after'), '1');
  t.match(await before.json(), { status: 'not_listening' });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.ok(await until(async () => (await fetch(url('/health/ready'))).status === 200), 'ready within 3 s');
  const main = await app.inject('/health/ready');
  t.same(await (await fetch(url('/health/ready'))).json(), main.json(), 'the same body as the main port');
});

t.test(
  'the health thread gives its kernel id, so the server can keep it ahead of the helper threads',
  { skip: process.platform !== 'linux' && 'Linux only' },
  async (t) => {
    const tid = app.healthThreadId;
    t.ok(Number.isInteger(tid) && tid !== process.pid, `thread ${tid}`);
    t.ok(existsSync(`/proc/self/task/${tid}`), 'a thread of this process');
  },
);

t.test('only the probes are served there', async (t) => {
  const other = await fetch(url('/classify'), { method: 'POST', body: 'x' });
  t.equal(other.status, 404);
  t.match(await other.json(), { code: 'ROUTE_NOT_FOUND', field: 'url', received: '/classify' });
  const post = await fetch(url('/health/live'), { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
});

t.test('a blocked event loop: probes answered at once, then 503 past the stall limit', async (t) => {
  // The prober is another process: this thread is about to stop turning.
  const script = `
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const probe = async () => { const t0 = performance.now(); const r = await fetch('${url('/health/live')}');
      return { status: r.status, ms: performance.now() - t0, body: await r.json() }; };
    await probe(); // fetch loads itself on first use: not part of what is timed
    console.log('go');
    await sleep(150); const early = await probe();
    await sleep(${STALL_MS + 300}); const late = await probe();
    console.log(JSON.stringify({ early, late }));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  await until(async () => out.startsWith('go'), 10_000);
  // Blocked for STALL_MS + 1200 ms: a probe answered by this thread could not come back in under 500 ms.
  const end = Date.now() + STALL_MS + 1200;
  while (Date.now() < end) {
    // Blocked on purpose, as a runaway synchronous computation would block it.
  }
  await new Promise((r) => child.on('exit', r));
  const { early, late } = JSON.parse(out.slice(out.indexOf('{')));
  t.equal(early.status, 200, 'live while the loop had been blocked for less than the limit');
  t.ok(early.ms < 500, `answered in ${early.ms.toFixed(1)} ms with the event loop blocked`);
  t.equal(late.status, 503, 'not live once the loop has been stalled past the limit');
  t.match(late.body, { status: 'stalled' });
  t.ok(late.body.eventLoopStalledMs > STALL_MS);
  t.ok(
    await until(async () => (await fetch(url('/health/live'))).status === 200),
    'live again once it turns',
  );
});

t.test('readiness follows the drain', async (t) => {
  app.draining = true;
  t.ok(await until(async () => (await fetch(url('/health/ready'))).status === 503), '503 within 3 s');
  t.match(await (await fetch(url('/health/ready'))).json(), { status: 'draining' });
  app.draining = false;
});

t.test('a health port that is taken stops start-up with a clear error', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.teardown(() => blocker.close());
  const taken = (blocker.address() as net.AddressInfo).port;
  await t.rejects(buildApp(testConfig({ host: '127.0.0.1', healthPort: taken })), /HEALTH_PORT .*EADDRINUSE/);
});

t.test('HEALTH_PORT must differ from PORT; unset means no second listener', async (t) => {
  t.throws(() => loadConfig({ PORT: '3000', HEALTH_PORT: '3000' }), ConfigError);
  t.equal(loadConfig({ PORT: '3000', HEALTH_PORT: '3001' }).healthPort, 3001);
  t.equal(loadConfig({}).healthPort, undefined);
  const plain = await buildApp(testConfig());
  t.teardown(() => plain.close());
  t.equal(plain.healthPort, undefined);
});
