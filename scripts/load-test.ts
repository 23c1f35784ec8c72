/**
 * npm run test:load — the long runs, against a real server process on 127.0.0.1 (bounded in time,
 * stops by itself; not part of CI):
 *  1. load: autocannon, 64 connections for 20 s on POST /classify with the default model. Every
 *     response must be a 200 or an explicit 503 with Retry-After; no errors, no timeouts. Reports
 *     p50, p99 and throughput, the event-loop lag p99 and /health/ready latency during the load, and
 *     checks tensors are back to their count and resident memory growth is bounded.
 *  2. drain: 64 concurrent clients, SIGTERM after 5 s. Every request sent before the signal must
 *     complete (200 or 503), and the process must exit 0 within the drain deadline.
 *  3. mixed: 64 connections of mixed traffic (scripts/load/mixed.ts); health p99 and memory.
 *  4. abuse: decompression bombs and 19,999-layer analyses beside an ordinary client
 *     (scripts/load/abuse.ts); health p99, the ordinary client's latency, peak memory.
 * Usage: npm run test:load [-- --duration 20 --connections 64 --phases load,drain,mixed,abuse]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { abusePhase } from './load/abuse.js';
import { Checklist } from './load/common.js';
import { mixedPhase } from './load/mixed.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    connections: { type: 'string', default: '64' },
    port: { type: 'string', default: '3917' },
    phases: { type: 'string', default: 'load,drain,mixed,abuse' },
  },
});
const PHASES = new Set(values.phases.split(','));
const checklist = new Checklist();
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const PORT = Number(values.port);
const BASE = `http://127.0.0.1:${PORT}`;
const SAMPLE = readFileSync(new URL('../test/fixtures/fashion/0_9.png', import.meta.url));
const DRAIN_TIMEOUT_MS = 30_000;

const check = (ok: boolean, what: string) => checklist.check(ok, what);

function startServer(): ChildProcess {
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(PORT),
      LOG_LEVEL: 'warn',
      DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

async function waitReady(timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    try {
      const res = await fetch(`${BASE}/health/ready`);
      if (res.status === 200) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not become ready');
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${BASE}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function loadPhase(): Promise<void> {
  const server = startServer();
  try {
    const readyMs = await waitReady();
    console.log(`ready in ${readyMs.toFixed(0)} ms`);
    // Warm the path, then take the baseline.
    for (let i = 0; i < 20; i++)
      await fetch(`${BASE}/classify`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: SAMPLE,
      });
    const tensorsBefore = await metric('tfjs_tensors');
    const rssBefore = await metric('process_resident_memory_bytes');
    // prom-client resets its event-loop histogram at each scrape: this one starts the load's window.
    await metric('nodejs_eventloop_lag_p99_seconds');

    // Probe health while loaded: it must stay responsive.
    const healthLatencies: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t0 = performance.now();
        await fetch(`${BASE}/health/ready`).catch(() => undefined);
        healthLatencies.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const statuses = new Map<number, number>();
    let missingRetryAfter = 0;
    const result = await autocannon({
      url: `${BASE}/classify`,
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: SAMPLE,
      connections: CONNECTIONS,
      duration: DURATION,
      timeout: 60,
      setupClient(client) {
        // autocannon emits the parsed status line with the raw header list; its typings omit it.
        (
          client as unknown as {
            on(e: 'headers', f: (h: { statusCode: number; headers: string[] }) => void): void;
          }
        ).on('headers', (h) => {
          statuses.set(h.statusCode, (statuses.get(h.statusCode) ?? 0) + 1);
          if (h.statusCode === 503 && !h.headers.some((x) => String(x).toLowerCase() === 'retry-after'))
            missingRetryAfter++;
        });
      },
    });
    probing = false;
    await probe;
    const lagP99 = await metric('nodejs_eventloop_lag_p99_seconds');
    await new Promise((r) => setTimeout(r, 1000));
    const tensorsAfter = await metric('tfjs_tensors');
    const rssAfter = await metric('process_resident_memory_bytes');
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    const ok = statuses.get(200) ?? 0;
    const unavailable = statuses.get(503) ?? 0;
    healthLatencies.sort((a, b) => a - b);
    console.log(
      JSON.stringify(
        {
          phase: 'load',
          connections: CONNECTIONS,
          durationS: DURATION,
          requests: total,
          statuses: Object.fromEntries(statuses),
          errors: result.errors,
          timeouts: result.timeouts,
          throughputRps: result.requests.average,
          imagesPerSecond: ok / DURATION,
          latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
          healthReadyMs: { p50: pct(healthLatencies, 50), p99: pct(healthLatencies, 99) },
          // monitorEventLoopDelay samples every 10 ms, so an idle loop reads ~10 ms; lag is the excess.
          eventLoopDelayP99Ms: lagP99 * 1000,
          tensors: { before: tensorsBefore, after: tensorsAfter },
          rssMB: { before: rssBefore / 2 ** 20, after: rssAfter / 2 ** 20 },
        },
        null,
        2,
      ),
    );
    check(result.errors === 0 && result.timeouts === 0, 'no connection errors or timeouts');
    check(ok + unavailable === total && total > 0, 'every response is 200 or 503');
    check(missingRetryAfter === 0, 'every 503 carries Retry-After');
    check(tensorsAfter === tensorsBefore, `tensor count unchanged (${tensorsBefore} → ${tensorsAfter})`);
    check(
      rssAfter - rssBefore < 256 * 2 ** 20,
      `resident memory growth bounded (${((rssAfter - rssBefore) / 2 ** 20).toFixed(1)} MB < 256 MB)`,
    );
  } finally {
    server.kill('SIGKILL');
  }
}

async function drainPhase(): Promise<void> {
  const server = startServer();
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    server.once('exit', (code) => resolve({ code, at: performance.now() })),
  );
  await waitReady();
  let signalAt = Number.POSITIVE_INFINITY;
  const records: { sentAt: number; status?: number; error?: string }[] = [];
  const deadline = performance.now() + 15_000;
  const client = async () => {
    while (performance.now() < deadline) {
      const sentAt = performance.now();
      if (sentAt > signalAt + 2000) return;
      const record: (typeof records)[number] = { sentAt };
      records.push(record);
      try {
        const res = await fetch(`${BASE}/classify`, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: SAMPLE,
        });
        record.status = res.status;
        await res.arrayBuffer();
      } catch (err) {
        record.error = (err as Error).cause
          ? String((err as { cause: unknown }).cause)
          : (err as Error).message;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const clients = Array.from({ length: CONNECTIONS }, client);
  await new Promise((r) => setTimeout(r, 5000));
  signalAt = performance.now();
  server.kill('SIGTERM');
  await Promise.all(clients);
  const { code, at } = await exited;
  const before = records.filter((r) => r.sentAt < signalAt);
  const lost = before.filter((r) => r.status !== 200 && r.status !== 503);
  console.log(
    JSON.stringify(
      {
        phase: 'drain',
        sentBeforeSignal: before.length,
        completed200: before.filter((r) => r.status === 200).length,
        answered503: before.filter((r) => r.status === 503).length,
        lost: lost.length,
        lostSample: lost.slice(0, 3),
        exitCode: code,
        exitAfterSignalMs: Math.round(at - signalAt),
        afterSignal: records.length - before.length,
      },
      null,
      2,
    ),
  );
  check(lost.length === 0, 'every request sent before SIGTERM got its answer (200 or 503)');
  check(code === 0, 'exit code 0');
  check(at - signalAt < DRAIN_TIMEOUT_MS, 'exited within the drain deadline');
}

if (PHASES.has('load')) await loadPhase();
if (PHASES.has('drain')) await drainPhase();
if (PHASES.has('mixed')) await mixedPhase(PORT, DURATION, CONNECTIONS, checklist);
if (PHASES.has('abuse')) await abusePhase(PORT, DURATION, checklist);
const { failures } = checklist;
console.log(failures === 0 ? 'load test: all checks passed' : `load test: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
