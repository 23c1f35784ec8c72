// What the server process writes to stdout: JSON lines by default when stdout is not a terminal,
// pino-pretty's readable lines with LOG_FORMAT=pretty; health probes and /metrics log their request
// lines at debug, so at the default level a burst of probes writes nothing while an /analyze request
// writes its two lines, carrying the request id. Both formats end with the drain's last line, in
// order: what is logged just before process.exit(0) is written before the process ends.
import t, { type Test } from 'tap';
import { loadConfig } from '../../src/config.js';
import { serverProcess } from '../helpers/server-process.js';

const PROBES = ['/health/live', '/health/ready', '/metrics', '/v2/health/live', '/v2/health/ready'];

/**
 * Starts the built server with no models, makes a burst of probe requests then one /analyze
 * request, and stops it with SIGTERM: what it wrote, from start to exit.
 */
async function runServer(t: Test, env: Record<string, string | undefined>) {
  const server = await serverProcess(t, {
    LOG_FORMAT: undefined,
    FORCE_COLOR: undefined,
    NO_COLOR: '1',
    SERVE_MODELS: 'false',
    ...env,
  });
  for (let i = 0; i < 20; i++) {
    for (const probe of PROBES)
      await (await fetch(server.url + probe, { headers: { 'x-request-id': `probe-${i}` } })).text();
  }
  const analyzed = await fetch(`${server.url}/analyze`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'analyze-1' },
    body: JSON.stringify({ model: 'resnet18' }),
  });
  await analyzed.text();
  if (analyzed.status !== 200) throw new Error(`/analyze answered ${analyzed.status}`);
  return server.stop();
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

t.test('LOG_FORMAT defaults to pretty at a terminal and to JSON otherwise, and is checked', async (t) => {
  t.equal(loadConfig({}, true).logFormat, 'pretty');
  t.equal(loadConfig({}, false).logFormat, 'json');
  t.equal(loadConfig({ LOG_FORMAT: 'json' }, true).logFormat, 'json');
  t.equal(loadConfig({ LOG_FORMAT: 'pretty' }, false).logFormat, 'pretty');
  t.throws(
    () => loadConfig({ LOG_FORMAT: 'xml' }),
    /LOG_FORMAT="xml" is invalid: expected one of json, pretty/,
  );
});

t.test('not a terminal, no LOG_FORMAT: JSON lines; probes at debug, /analyze at info', async (t) => {
  const run = await runServer(t, { LOG_LEVEL: 'debug' });
  t.equal(run.code, 0, 'SIGTERM: exit 0');
  t.equal(run.stderr, '', 'nothing on stderr');
  const entries = lines(run.stdout).map((line) => {
    try {
      return JSON.parse(line) as { level: number; msg: string; reqId?: string; req?: { url: string } };
    } catch {
      t.fail(`not a JSON line: ${line}`);
      return undefined;
    }
  });
  const parsed = entries.filter((e) => e !== undefined);
  t.ok(
    parsed.every((e) => typeof e.level === 'number' && typeof e.msg === 'string'),
    'every line is a pino entry',
  );
  const probeLines = parsed.filter((e) => e.reqId?.startsWith('probe-'));
  t.equal(
    probeLines.length,
    2 * 20 * PROBES.length,
    'each probe logs incoming and completed (at LOG_LEVEL=debug)',
  );
  t.same(
    [...new Set(probeLines.map((e) => e.level))],
    [20],
    'every probe line is at debug (20), so LOG_LEVEL=info hides it',
  );
  const probed = new Set(probeLines.flatMap((e) => (e.req ? [e.req.url] : [])));
  t.same([...probed].sort(), [...PROBES].sort(), 'the health routes, /metrics and the KServe health routes');
  const analyze = parsed.filter((e) => e.reqId === 'analyze-1');
  t.same(
    analyze.map((e) => [e.level, e.msg]),
    [
      [30, 'incoming request'],
      [30, 'request completed'],
    ],
    '/analyze logs its request lines at info with its request id',
  );
  t.equal(parsed.at(-1)?.msg, 'drained; bye', 'the last line is the end of the drain');
});

t.test('LOG_FORMAT=pretty: readable lines; probes silent at info, /analyze shown', async (t) => {
  const run = await runServer(t, { LOG_FORMAT: 'pretty', LOG_LEVEL: 'info' });
  t.equal(run.code, 0, 'SIGTERM: exit 0');
  t.equal(run.stderr, '', 'nothing on stderr');
  const all = lines(run.stdout);
  t.notOk(
    all.some((line) => line.startsWith('{')),
    'no line is a JSON object',
  );
  t.match(all[0], /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+$/);
  t.notMatch(run.stdout, /probe-|\/health\/|\/metrics/, 'no probe is logged at the default level');
  t.match(
    run.stdout,
    /INFO: incoming request\n\s+reqId: "analyze-1"\n\s+req: \{\n\s+"method": "POST",\n\s+"url": "\/analyze"/,
    '/analyze is logged with its request id',
  );
  t.match(run.stdout, /INFO: request completed\n\s+reqId: "analyze-1"\n\s+res: \{\n\s+"statusCode": 200/);
  t.match(all.at(-1), /^\[[\d:.]+\] INFO: drained; bye$/, 'the last line, flushed before exit');
});
