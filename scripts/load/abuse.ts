/**
 * Abuse: what a client can send to starve the service — GIF and WebP decompression bombs (several per
 * request, many requests at once) and /analyze specs of 19,999 layers — while another client sends
 * single ordinary images and health is probed every 50 ms. Reports the other client's latency,
 * health's, and the server's peak resident memory against the compose file's 1 GiB limit.
 */
import http from 'node:http';
import {
  type Checklist,
  fixture,
  checkHealth,
  probeHealth,
  pct,
  request,
  rssMb,
  rssSampler,
  startServer,
  waitReady,
} from './common.js';

const COMPOSE_LIMIT_MB = 1024;
const SAMPLE = fixture('fashion/0_9.png');
const GIF = fixture('bombs/gif-9990.gif');
const WEBP = fixture('bombs/webp-16383.webp');
// The spec test/routes/analyze-bounded.test.ts analyses: 19,999 layers from 300 bytes.
const HEAVY_SPEC = fixture('specs/heavy-19999-layers.json');

function multipart(files: Buffer[]): { body: Buffer; type: string } {
  const boundary = 'abuse-boundary';
  const parts = files.flatMap((f, i) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="b${i}"\r\n\r\n`),
    f,
    Buffer.from('\r\n'),
  ]);
  return {
    body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

export async function abusePhase(port: number, durationS: number, checks: Checklist) {
  const base = `http://127.0.0.1:${port}`;
  const server = startServer(port);
  try {
    await waitReady(base);
    const pid = server.pid ?? 0;
    const rssBefore = rssMb(pid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const probe = probeHealth(port);
    const rss = rssSampler(pid);
    const deadline = performance.now() + durationS * 1000;
    const tally = new Map<string, Map<number, number>>();
    const count = (what: string, status: number) => {
      const m = tally.get(what) ?? new Map<number, number>();
      m.set(status, (m.get(status) ?? 0) + 1);
      tally.set(what, m);
    };
    const loop = (what: string, send: () => ReturnType<typeof request>) => async () => {
      while (performance.now() < deadline) count(what, (await send()).status);
    };
    const gifs = multipart([GIF, GIF, GIF, GIF]);
    const victim: number[] = [];
    await Promise.all([
      ...Array.from(
        { length: 8 },
        loop('gif-bombs x4', () =>
          request(agent, `${base}/classify`, {
            method: 'POST',
            headers: { 'content-type': gifs.type },
            body: gifs.body,
          }),
        ),
      ),
      ...Array.from(
        { length: 4 },
        loop('webp-bomb', () =>
          request(agent, `${base}/classify`, {
            method: 'POST',
            headers: { 'content-type': 'image/webp' },
            body: WEBP,
          }),
        ),
      ),
      ...Array.from(
        { length: 16 },
        loop('analyze-19999-layers', () =>
          request(agent, `${base}/analyze`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: HEAVY_SPEC,
          }),
        ),
      ),
      (async () => {
        while (performance.now() < deadline) {
          const a = await request(agent, `${base}/classify`, {
            method: 'POST',
            headers: { 'content-type': 'image/png' },
            body: SAMPLE,
          });
          count('other-client-single-image', a.status);
          victim.push(a.ms);
        }
      })(),
    ]);
    const health = await probe.stop();
    const { peak } = rss.stop();
    agent.destroy();
    const report = {
      phase: 'abuse',
      durationS,
      statuses: Object.fromEntries([...tally].map(([k, v]) => [k, Object.fromEntries(v)])),
      otherClientMs: {
        requests: victim.length,
        p50: pct(victim, 50),
        p99: pct(victim, 99),
        max: Math.max(...victim),
      },
      healthMs: health,
      rssMb: { before: rssBefore, peak, limit: COMPOSE_LIMIT_MB },
    };
    console.log(JSON.stringify(report, null, 2));
    const no5xx = [...tally.values()].every((m) =>
      [...m.keys()].every((s) => (s > 0 && s < 500) || s === 503),
    );
    checks.check(no5xx, 'abuse: no 5xx but 503, no connection errors');
    checks.check(
      [...(tally.get('gif-bombs x4')?.keys() ?? [])].every((s) => s === 413),
      'abuse: GIF bombs are refused with 413',
    );
    checkHealth(checks, 'abuse', health);
    checks.check(
      peak < COMPOSE_LIMIT_MB,
      `abuse: peak resident memory ${peak.toFixed(0)} MB under the compose limit`,
    );
  } finally {
    server.kill('SIGKILL');
  }
}
