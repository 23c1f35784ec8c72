/**
 * Mixed traffic: `connections` clients for `duration` s, each request drawn from a fixed mix —
 * /classify (one PNG), /analyze of large zoo models at input sizes nobody asked before (cache misses),
 * small specs, the served model's ONNX export, /metrics — while health is probed every 50 ms.
 */
import http from 'node:http';
import {
  type Checklist,
  fixture,
  healthProbe,
  pct,
  request,
  rssMb,
  rssSampler,
  startServer,
  waitReady,
} from './common.js';

interface Kind {
  name: string;
  weight: number;
  send: (agent: http.Agent, base: string, n: number) => ReturnType<typeof request>;
}

const SAMPLE = fixture('fashion/0_9.png');
const BIG = ['resnet152', 'inception_v3', 'inception_resnet_v2', 'efficientnet_b0_tv', 'mobilenet_v2_tv'];
const json = { 'content-type': 'application/json' };

const KINDS: Kind[] = [
  {
    name: 'classify',
    weight: 50,
    send: (a, b) =>
      request(a, `${b}/classify`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: SAMPLE }),
  },
  {
    name: 'analyze-zoo-new-size',
    weight: 20,
    // A size per request number: every one a cache miss until the sizes repeat.
    send: (a, b, n) =>
      request(a, `${b}/analyze`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ model: BIG[n % BIG.length], input: [96 + (n % 225), 96 + (n % 225), 3] }),
      }),
  },
  {
    name: 'analyze-spec',
    weight: 10,
    send: (a, b, n) =>
      request(a, `${b}/analyze`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          spec: { input: [32, 32, 3], layers: [{ kind: 'conv2d', filters: 8 + (n % 64), kernel: 3 }] },
        }),
      }),
  },
  { name: 'onnx-export', weight: 10, send: (a, b) => request(a, `${b}/models/fashion-resnet/model.onnx`) },
  { name: 'metrics', weight: 10, send: (a, b) => request(a, `${b}/metrics`) },
];

/** The kind whose share of the weight cycle holds `slot`. */
function kindAt(slot: number): Kind {
  let rest = slot;
  for (const kind of KINDS) {
    if (rest < kind.weight) return kind;
    rest -= kind.weight;
  }
  return KINDS[0];
}

export async function mixedPhase(port: number, durationS: number, connections: number, checks: Checklist) {
  const base = `http://127.0.0.1:${port}`;
  const server = startServer(port);
  try {
    await waitReady(base);
    const pid = server.pid ?? 0;
    const rssBefore = rssMb(pid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    const probe = healthProbe(base);
    const rss = rssSampler(pid);
    const results = new Map<string, { statuses: Map<number, number>; ms: number[]; noRetryAfter: number }>(
      KINDS.map((k) => [k.name, { statuses: new Map(), ms: [], noRetryAfter: 0 }]),
    );
    const total = KINDS.reduce((s, k) => s + k.weight, 0);
    const deadline = performance.now() + durationS * 1000;
    let n = 0;
    const client = async () => {
      while (performance.now() < deadline) {
        const i = n++;
        // Deterministic mix: request i takes the kind its slot in a 100-request cycle falls in.
        const kind = kindAt((i * 37) % total);
        const answer = await kind.send(agent, base, i);
        const r = results.get(kind.name);
        if (!r) continue;
        r.statuses.set(answer.status, (r.statuses.get(answer.status) ?? 0) + 1);
        r.ms.push(answer.ms);
        if (answer.status === 503 && !answer.retryAfter) r.noRetryAfter++;
      }
    };
    await Promise.all(Array.from({ length: connections }, client));
    const health = await probe.stop();
    const { peak } = rss.stop();
    agent.destroy();
    await new Promise((r) => setTimeout(r, 5000));
    const rssLater = rssMb(pid);
    const routes = Object.fromEntries(
      [...results].map(([name, r]) => [
        name,
        {
          requests: r.ms.length,
          statuses: Object.fromEntries(r.statuses),
          p50Ms: Math.round(pct(r.ms, 50)),
          p99Ms: Math.round(pct(r.ms, 99)),
          maxMs: Math.round(Math.max(...r.ms)),
        },
      ]),
    );
    const report = {
      phase: 'mixed',
      connections,
      durationS,
      routes,
      healthLiveMs: { p50: pct(health.live, 50), p99: pct(health.live, 99), max: Math.max(...health.live) },
      healthReadyMs: {
        p50: pct(health.ready, 50),
        p99: pct(health.ready, 99),
        max: Math.max(...health.ready),
      },
      rssMb: { before: rssBefore, peak, fiveSecondsAfter: rssLater },
    };
    console.log(JSON.stringify(report, null, 2));
    const answered = [...results.values()].every((r) =>
      [...r.statuses.keys()].every((s) => s === 200 || s === 503),
    );
    checks.check(answered, 'mixed: every answer is 200 or 503');
    checks.check(
      [...results.values()].every((r) => r.noRetryAfter === 0),
      'mixed: every 503 carries Retry-After',
    );
    checks.check(
      report.healthLiveMs.p99 < 50 && report.healthReadyMs.p99 < 50,
      `mixed: health p99 under 50 ms (live ${report.healthLiveMs.p99.toFixed(1)}, ready ${report.healthReadyMs.p99.toFixed(1)})`,
    );
  } finally {
    server.kill('SIGKILL');
  }
}
