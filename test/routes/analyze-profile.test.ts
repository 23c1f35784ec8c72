// POST /analyze {"model", "profile"} over a real socket on 127.0.0.1: a served model's measured time
// per layer, its bounds, and one profile at a time. Times are only checked to be finite and positive;
// what is asserted is the accounting (every layer once, shares summing to 1, GFLOP/s = 2·MACs/ms).
import http from 'node:http';
import t, { type Test } from 'tap';
import type { AnalysisReport } from '../../src/analysis/analyze.js';
import type { ProfileReport } from '../../src/analysis/profile.js';
import { serverProcess } from '../helpers/server-process.js';

/** The built server serving fashion-resnet on ONNX Runtime, once it is ready. */
async function serve(t: Test): Promise<string> {
  const { url } = await serverProcess(t, { MODELS: 'fashion-resnet', ENGINE: 'onnxruntime', WORKERS: '1' });
  for (let i = 0; i < 600 && (await fetch(`${url}/health/ready`)).status !== 200; i++)
    await new Promise((r) => setTimeout(r, 100));
  return url;
}

/** A POST on a connection of its own (fetch could queue two requests to one origin one after the other). */
/** A profile report when 200, the error body otherwise. */
type Answer = ProfileReport & { code?: string; unattributedNodes: string[] };

function post(
  url: string,
  body: unknown,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Answer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/analyze`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(text) }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** `served` is the served model's analysis, whose layers and MACs the profile must account for. */
function checkAccounting(
  t: Test,
  served: AnalysisReport,
  report: ProfileReport,
  engine: string,
  runs: number,
) {
  const specLayers = served.layers.map((l) => l.name);
  t.equal(report.engine, engine);
  t.equal(report.runs, runs);
  t.match(report.method, engine === 'tfjs' ? /tfjs .* backend/ : /onnxruntime session profiling/);
  const accounted = [...report.rows.flatMap((r) => r.layers), ...report.untimed].sort();
  t.same(accounted, [...specLayers].sort(), 'every spec layer is in exactly one row or untimed');
  const shares = report.rows.reduce((s, r) => s + r.share, 0);
  t.ok(Math.abs(shares - 1) < 1e-9, `shares sum to 1 (${shares})`);
  const macs = report.rows.reduce((s, r) => s + r.macs, 0);
  const untimedMacs = served.layers
    .filter((l) => report.untimed.includes(l.name))
    .reduce((s, l) => s + l.macs, 0);
  t.equal(macs + untimedMacs, served.totals.macs, "rows and untimed layers hold the model's MACs");
  for (const row of report.rows) {
    t.ok(Number.isFinite(row.medianMs) && row.medianMs >= 0, `${row.layer}: a finite time`);
    if (row.medianMs > 0)
      t.ok(Math.abs(row.gflops - (2 * row.macs) / (row.medianMs * 1e6)) < 1e-9 * Math.max(1, row.gflops));
  }
  const convs = report.rows.filter((r) => r.kind === 'conv2d');
  t.ok(convs.length > 0 && convs.every((r) => r.medianMs > 0 && r.gflops > 0), 'every conv took time');
  t.ok(report.totalMs > 0 && report.runMs > 0);
  const conv1 = report.rows.find((r) => r.layer === 'conv1_conv');
  t.same(
    conv1?.layers,
    ['conv1_conv', 'conv1_bn', 'conv1_relu'],
    'folded batch norm and fused activation join their conv',
  );
}

t.test('profile of a served model', async (t) => {
  const url = await serve(t);
  const served = (await post(url, { model: 'fashion-resnet' })).json as unknown as AnalysisReport;

  await t.test('on the serving engine and on tfjs, one at a time', async (t) => {
    const ort = await post(url, { model: 'fashion-resnet', profile: { runs: 5 } });
    t.equal(ort.status, 200);
    checkAccounting(t, served, ort.json, 'onnxruntime', 5);
    t.ok(ort.json.unattributedNodes.includes('input_nchw'), "the input's layout transpose is unattributed");

    // Sent together: whichever arrives second finds the first running.
    const [a, b] = await Promise.all([
      post(url, { model: 'fashion-resnet', profile: { runs: 3, engine: 'tfjs' } }),
      post(url, { model: 'fashion-resnet', profile: { runs: 3, engine: 'tfjs' } }),
    ]);
    const ok = [a, b].find((r) => r.status === 200);
    const refused = [a, b].find((r) => r.status === 429);
    t.ok(ok && refused, `one answered 200, the other 429 (got ${a.status}, ${b.status})`);
    if (ok) checkAccounting(t, served, ok.json, 'tfjs', 3);
    t.match(refused?.json, { code: 'PROFILE_RUNNING', field: 'profile', running: 'fashion-resnet' });
    t.equal(refused?.headers['retry-after'], '2');
  });

  await t.test('bounds and targets are 4xx naming the field', async (t) => {
    const many = await post(url, { model: 'fashion-resnet', profile: { runs: 101 } });
    t.equal(many.status, 400);
    t.match(many.json, { code: 'VALIDATION_ERROR', field: /profile\.runs/ });
    const zero = await post(url, { model: 'fashion-resnet', profile: { runs: 0 } });
    t.equal(zero.status, 400);
    const unknown = await post(url, { model: 'resnet50', profile: {} });
    t.equal(unknown.status, 404);
    t.match(unknown.json, { code: 'MODEL_NOT_FOUND', field: 'model', received: 'resnet50' });
    const spec = await post(url, {
      spec: { input: [8, 8, 1], layers: [{ kind: 'globalavgpool' }] },
      profile: {},
    });
    t.equal(spec.status, 400);
    t.match(spec.json, { field: 'model', message: /convnet-serve profile/ }, 'a spec is profiled by the CLI');
    const mixed = await post(url, { model: 'fashion-resnet', profile: {}, batch: 4 });
    t.equal(mixed.status, 400);
    t.match(mixed.json, { field: 'batch' });
  });
});
