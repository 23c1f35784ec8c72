/**
 * npm run test:docker — the container end to end (needs Docker; not part of CI). Bounded in time,
 * talks to 127.0.0.1 only, removes its containers and compose volume when it ends:
 *  0. an engine: when `docker info` fails, runs ../shared/tools/docker-local.sh (relative to the repo),
 *     which installs and starts one on this offline machine kind;
 *  1. builds the image (--network host) and reports the build time and image size;
 *  2. runs it with --network host, --read-only (as the Kubernetes manifest does) and HOST=127.0.0.1
 *     on a free port, and reports the time from `docker run` to readiness and to Docker's "healthy";
 *  3. classifies test/fixtures/fashion/0_9.png and analyzes resnet50 (25,636,712 parameters);
 *  4. drain: 32 concurrent clients (3/4 classify, 1/4 analyze resnet152, whose synchronous work and
 *     large responses keep the event loop busy), `docker stop` during the burst; the clients stop
 *     sending at the signal and keep their keep-alive connections. Every request sent before the
 *     signal must be answered (200 or 503), and the container must exit 0 within DRAIN_TIMEOUT_MS;
 *  5. the same with docker-compose (docker-compose.yml + docker-compose.host.yml).
 *
 * Models: the image bakes every models/<name>/ with a config.json into /models. When those default
 * models are incomplete (no folder, or a weights file missing, e.g. while training runs), the
 * containers get a MODELS_DIR mounted from a copy of test/fixtures/served/small-h5 instead, and the
 * run says so. TEST_DOCKER_MODELS_DIR=/path forces a folder of your own.
 *
 * docker-compose v1 (1.28+) refuses `network_mode: host` together with the base file's `ports`
 * ("host" network_mode is incompatible with port_bindings) and an override cannot delete list
 * entries, so step 5 renders the merged config with `config`, drops `ports`, and runs that file.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const IMAGE = 'convnet-serve:test';
const DRAIN_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_S = 45; // > DRAIN_TIMEOUT_MS + the server's own 5 s slack
const CLIENTS = 32;
const SAMPLE_PATH = path.join(ROOT, 'test/fixtures/fashion/0_9.png');
const RESNET50_PARAMS = 25_636_712;
const NAME = `convnet-serve-test-${process.pid}`;
const PROJECT = `convnetservetest${process.pid}`;

const tmp = mkdtempSync(path.join(tmpdir(), 'convnet-docker-test-'));
let failures = 0;
const cleanups: (() => Promise<unknown>)[] = [];

function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
  if (!ok) failures++;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command with a hard time limit; never throws unless `must` and it fails. */
function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; must?: boolean; log?: string; cwd?: string },
): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err), ms: performance.now() - started });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (opts.log) writeFileSync(opts.log, stdout + stderr);
      const result = { code, stdout, stderr, ms: performance.now() - started };
      if (opts.must && code !== 0) {
        reject(
          new Error(
            `${cmd} ${args.join(' ')} failed (${code ?? `killed after ${opts.timeoutMs} ms`}):\n${(stdout + stderr).slice(-3000)}`,
          ),
        );
      } else resolve(result);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function ensureEngine(): Promise<void> {
  if ((await run('docker', ['info'], { timeoutMs: 20_000 })).code === 0) return;
  const script = path.resolve(ROOT, '../shared/tools/docker-local.sh');
  if (!existsSync(script)) throw new Error(`docker info fails and ${script} does not exist`);
  console.log(`docker info fails: starting an engine with ${script} (several minutes the first time)`);
  await run('bash', [script], {
    timeoutMs: 15 * 60_000,
    must: true,
    log: path.join(tmp, 'docker-local.log'),
  });
}

/** The folder to mount at /models, or undefined when the image's baked-in defaults are complete. */
function modelsToMount(): { dir?: string; why: string } {
  if (process.env.TEST_DOCKER_MODELS_DIR)
    return { dir: path.resolve(process.env.TEST_DOCKER_MODELS_DIR), why: 'TEST_DOCKER_MODELS_DIR' };
  const modelsDir = path.join(ROOT, 'models');
  const folders = readdirSync(modelsDir).filter((f) => existsSync(path.join(modelsDir, f, 'config.json')));
  const missing = folders.flatMap((f) => {
    const config = JSON.parse(readFileSync(path.join(modelsDir, f, 'config.json'), 'utf8')) as {
      weights?: string;
    };
    return config.weights && !existsSync(path.join(modelsDir, f, config.weights))
      ? [`${f}/${config.weights}`]
      : [];
  });
  if (folders.length && !missing.length) return { why: `the image's default models: ${folders.join(', ')}` };
  // Dereferenced copy: the fixture's weights are symlinks, which would dangle inside the container.
  const dir = path.join(tmp, 'models');
  cpSync(path.join(ROOT, 'test/fixtures/served/small-h5'), path.join(dir, 'small-h5'), {
    recursive: true,
    dereference: true,
  });
  const reason = folders.length
    ? `default model weights missing (${missing.join(', ')})`
    : 'no default model folder has a config.json yet';
  return { dir, why: `${reason}: a copy of test/fixtures/served/small-h5 mounted at /models` };
}

async function waitReady(
  base: string,
  containerId: string,
  startedAt: number,
): Promise<{ readyMs?: number; healthyMs?: number }> {
  const deadline = startedAt + 180_000;
  let readyMs: number | undefined;
  let healthyMs: number | undefined;
  while (performance.now() < deadline && (readyMs === undefined || healthyMs === undefined)) {
    if (readyMs === undefined) {
      const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(
        () => undefined,
      );
      if (res?.status === 200) readyMs = performance.now() - startedAt;
      await res?.arrayBuffer().catch(() => undefined);
    }
    if (healthyMs === undefined) {
      const state = await run(
        'docker',
        [
          'inspect',
          '--format',
          '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}',
          containerId,
        ],
        { timeoutMs: 10_000 },
      );
      const [status, health] = state.stdout.trim().split(' ');
      if (status !== 'running')
        throw new Error(`container is ${status}: ${(await logs(containerId)).slice(-3000)}`);
      if (health === 'healthy') healthyMs = performance.now() - startedAt;
      if (health === 'unhealthy')
        throw new Error(`container is unhealthy: ${(await logs(containerId)).slice(-3000)}`);
    }
    await sleep(100);
  }
  return { readyMs, healthyMs };
}

async function logs(containerId: string): Promise<string> {
  const r = await run('docker', ['logs', containerId], { timeoutMs: 10_000 });
  return r.stdout + r.stderr;
}

async function smoke(base: string): Promise<void> {
  if (existsSync(SAMPLE_PATH)) {
    const form = new FormData();
    form.append('image', new Blob([readFileSync(SAMPLE_PATH)], { type: 'image/png' }), '0_9.png');
    const res = await fetch(`${base}/classify`, {
      method: 'POST',
      body: form,
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as {
      model?: string;
      backend?: string;
      results?: { predictions: { label: string; probability: number }[] }[];
    };
    const top = body.results?.[0]?.predictions?.[0];
    check(
      res.status === 200 && Boolean(top),
      `classify 0_9.png (true label 9, Ankle boot): ${res.status}, model ${body.model}, backend ${body.backend}, top ${top?.label} ${top?.probability}`,
    );
  } else console.log(`skip  classify: ${SAMPLE_PATH} is absent`);
  const res = await fetch(`${base}/analyze`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'resnet50' }),
    signal: AbortSignal.timeout(30_000),
  });
  const report = (await res.json()) as { totals?: { params: number; macs: number } };
  check(
    res.status === 200 && report.totals?.params === RESNET50_PARAMS,
    `analyze resnet50: params ${report.totals?.params} (expected ${RESNET50_PARAMS}), MACs ${report.totals?.macs}`,
  );
}

interface DrainResult {
  sentBeforeSignal: number;
  inFlightAtSignal: number;
  ok200: number;
  answered503: number;
  lost: number;
  lostSample: unknown[];
  exitCode: number | null;
  signalToExitMs: number;
  drainedLog: boolean;
}

/** A burst of CLIENTS concurrent clients, `stop` during it; every request sent before it must be answered. */
async function drain(
  base: string,
  containerId: string,
  stop: () => Promise<RunResult>,
): Promise<DrainResult> {
  const sample = existsSync(SAMPLE_PATH) ? readFileSync(SAMPLE_PATH) : undefined;
  let signalAt = Number.POSITIVE_INFINITY;
  const records: { sentAt: number; doneAt?: number; status?: number; error?: string }[] = [];
  const hardStop = performance.now() + 120_000;
  const client = async (i: number) => {
    // Clients go quiet at the signal and keep their keep-alive connections, as an upstream proxy's
    // pool does: the server must still close them and exit.
    while (performance.now() < signalAt && performance.now() < hardStop) {
      const sentAt = performance.now();
      const record: (typeof records)[number] = { sentAt };
      records.push(record);
      try {
        // Inference on the default model where there is a sample image; otherwise analysis work.
        const res =
          sample && i % 4 !== 3
            ? await fetch(`${base}/classify`, {
                method: 'POST',
                headers: { 'content-type': 'image/png' },
                body: sample,
                signal: AbortSignal.timeout(60_000),
              })
            : await fetch(`${base}/analyze`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: '{"model":"resnet152"}',
                signal: AbortSignal.timeout(60_000),
              });
        await res.arrayBuffer();
        record.status = res.status;
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        record.error = cause?.code ?? cause?.message ?? (err as Error).message;
      }
      record.doneAt = performance.now();
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
  await sleep(2000);
  signalAt = performance.now();
  const inFlightAtSignal = records.filter((r) => r.doneAt === undefined).length;
  const stopped = await stop();
  const stoppedAt = performance.now();
  await Promise.all(clients);
  if (stopped.code !== 0) console.log(`stop command: ${stopped.stdout}${stopped.stderr}`);
  const state = await run(
    'docker',
    ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', containerId],
    { timeoutMs: 10_000 },
  );
  const [status, exitCode] = state.stdout.trim().split(' ');
  const before = records.filter((r) => r.sentAt < signalAt);
  const lost = before.filter((r) => r.status !== 200 && r.status !== 503);
  return {
    sentBeforeSignal: before.length,
    inFlightAtSignal,
    ok200: before.filter((r) => r.status === 200).length,
    answered503: before.filter((r) => r.status === 503).length,
    lost: lost.length,
    lostSample: lost.slice(0, 3),
    exitCode: status === 'exited' ? Number(exitCode) : null,
    signalToExitMs: Math.round(stoppedAt - signalAt),
    drainedLog: (await logs(containerId)).includes('drained; bye'),
  };
}

function checkDrain(what: string, r: DrainResult): void {
  console.log(JSON.stringify({ phase: `drain (${what})`, ...r }, null, 2));
  check(
    r.inFlightAtSignal > 0,
    `${what}: the signal came during the burst (${r.inFlightAtSignal} requests in flight)`,
  );
  check(
    r.lost === 0,
    `${what}: every request sent before SIGTERM got its answer (${r.ok200} × 200, ${r.answered503} × 503 of ${r.sentBeforeSignal})`,
  );
  check(r.exitCode === 0, `${what}: exit code ${r.exitCode}`);
  check(
    r.signalToExitMs < DRAIN_TIMEOUT_MS,
    `${what}: exited ${(r.signalToExitMs / 1000).toFixed(2)} s after the signal, within DRAIN_TIMEOUT_MS ${DRAIN_TIMEOUT_MS / 1000} s`,
  );
  check(r.drainedLog, `${what}: the server logged "drained; bye"`);
}

async function memory(containerId: string): Promise<string> {
  return (
    await run('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', containerId], {
      timeoutMs: 20_000,
    })
  ).stdout.trim();
}

async function composeCommand(): Promise<string[]> {
  if ((await run('docker-compose', ['version'], { timeoutMs: 20_000 })).code === 0) return ['docker-compose'];
  if ((await run('docker', ['compose', 'version'], { timeoutMs: 20_000 })).code === 0)
    return ['docker', 'compose'];
  throw new Error('neither docker-compose nor `docker compose` is available');
}

async function main(): Promise<void> {
  await ensureEngine();
  const models = modelsToMount();
  console.log(`models: ${models.why}`);
  const summary: Record<string, unknown> = { models: models.why };

  // 1. build
  console.log(`building ${IMAGE} (log: ${path.join(tmp, 'build.log')})`);
  const build = await run('docker', ['build', '--network', 'host', '-t', IMAGE, '.'], {
    timeoutMs: 20 * 60_000,
    must: true,
    log: path.join(tmp, 'build.log'),
  });
  const sizeBytes = Number(
    (
      await run('docker', ['image', 'inspect', '--format', '{{.Size}}', IMAGE], {
        timeoutMs: 20_000,
        must: true,
      })
    ).stdout.trim(),
  );
  // Asked of the image, not the build log (a cached build prints no RUN output).
  const probe = await run(
    'docker',
    [
      'run',
      '--rm',
      '--network',
      'none',
      '--entrypoint',
      'node',
      IMAGE,
      '-e',
      "require('@tensorflow/tfjs-node')",
    ],
    { timeoutMs: 60_000 },
  );
  const tfjsNode =
    probe.code === 0
      ? 'installed: tensorflow backend'
      : 'absent (libtensorflow download failed at build): wasm backend';
  summary.buildSeconds = +(build.ms / 1000).toFixed(1);
  summary.imageMB = +(sizeBytes / 1e6).toFixed(1);
  summary.tfjsNode = tfjsNode;
  console.log(`built in ${summary.buildSeconds} s; image ${summary.imageMB} MB; tfjs-node ${tfjsNode}`);

  // 2-4. docker run
  const port = await freePort();
  // On the host network the image's HEALTH_PORT (3001) may be taken: a free one, which Docker's
  // HEALTHCHECK then probes (it reads HEALTH_PORT), so "healthy" proves the health port answers.
  const healthPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const runArgs = [
    'run',
    '-d',
    '--name',
    NAME,
    '--network',
    'host',
    '--read-only',
    '-e',
    `PORT=${port}`,
    '-e',
    `HEALTH_PORT=${healthPort}`,
    '-e',
    'HOST=127.0.0.1',
    '-e',
    'WORKERS=2',
    '-e',
    `DRAIN_TIMEOUT_MS=${DRAIN_TIMEOUT_MS}`,
  ];
  if (models.dir) runArgs.push('-v', `${models.dir}:/models:ro`);
  cleanups.push(() => run('docker', ['rm', '-f', NAME], { timeoutMs: 60_000 }));
  const startedAt = performance.now();
  const id = (await run('docker', [...runArgs, IMAGE], { timeoutMs: 60_000, must: true })).stdout.trim();
  const ready = await waitReady(base, id, startedAt);
  check(
    ready.readyMs !== undefined,
    `docker run: /health/ready 200 after ${((ready.readyMs ?? NaN) / 1000).toFixed(2)} s`,
  );
  check(
    ready.healthyMs !== undefined,
    `docker run: Docker reports healthy after ${((ready.healthyMs ?? NaN) / 1000).toFixed(2)} s (HEALTHCHECK interval 10 s)`,
  );
  summary.startToReadySeconds = +((ready.readyMs ?? NaN) / 1000).toFixed(2);
  summary.startToHealthySeconds = +((ready.healthyMs ?? NaN) / 1000).toFixed(2);
  const healthPortReady = await fetch(`http://127.0.0.1:${healthPort}/health/ready`).catch(() => undefined);
  check(healthPortReady?.status === 200, `docker run: the health port ${healthPort} answers ready`);
  await smoke(base);
  summary.memoryAfterSmoke = await memory(id);
  const user = (await run('docker', ['exec', id, 'id', '-u'], { timeoutMs: 20_000 })).stdout.trim();
  check(user !== '' && user !== '0', `the service runs as uid ${user}, not root`);
  const dockerDrain = await drain(base, id, () =>
    run('docker', ['stop', '-t', String(STOP_TIMEOUT_S), id], { timeoutMs: (STOP_TIMEOUT_S + 30) * 1000 }),
  );
  checkDrain('docker run', dockerDrain);
  summary.drainDockerRun = dockerDrain;
  await run('docker', ['rm', '-f', NAME], { timeoutMs: 60_000 });

  // 5. docker-compose with the host-network override
  const compose = await composeCommand();
  const composePort = await freePort();
  const composeHealthPort = await freePort();
  const composeBase = `http://127.0.0.1:${composePort}`;
  const testOverride = path.join(tmp, 'docker-compose.test.yml');
  writeFileSync(
    testOverride,
    stringify({
      version: '2.4',
      services: {
        'convnet-serve': {
          image: IMAGE,
          environment: {
            PORT: String(composePort),
            HEALTH_PORT: String(composeHealthPort),
            HOST: '127.0.0.1',
            DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
          },
          ...(models.dir ? { volumes: [`${models.dir}:/models:ro`] } : {}),
        },
      },
    }),
  );
  const rendered = await run(
    compose[0],
    [
      ...compose.slice(1),
      '-f',
      'docker-compose.yml',
      '-f',
      'docker-compose.host.yml',
      '-f',
      testOverride,
      'config',
    ],
    { timeoutMs: 60_000, must: true },
  );
  const merged = parse(rendered.stdout) as { services: Record<string, Record<string, unknown>> };
  for (const service of Object.values(merged.services)) delete service.ports; // see the header
  const composeFile = path.join(tmp, 'docker-compose.rendered.yml');
  writeFileSync(composeFile, stringify(merged));
  const dc = (...args: string[]) => [...compose.slice(1), '-p', PROJECT, '-f', composeFile, ...args];
  cleanups.push(() => run(compose[0], dc('down', '-v', '--timeout', '5'), { timeoutMs: 120_000 }));
  const composeStarted = performance.now();
  await run(compose[0], dc('up', '-d', '--no-build'), { timeoutMs: 120_000, must: true });
  const cid = (
    await run(compose[0], dc('ps', '-q', 'convnet-serve'), { timeoutMs: 30_000, must: true })
  ).stdout.trim();
  const composeReady = await waitReady(composeBase, cid, composeStarted);
  check(
    composeReady.readyMs !== undefined,
    `compose: /health/ready 200 after ${((composeReady.readyMs ?? NaN) / 1000).toFixed(2)} s`,
  );
  check(
    composeReady.healthyMs !== undefined,
    `compose: Docker reports healthy after ${((composeReady.healthyMs ?? NaN) / 1000).toFixed(2)} s`,
  );
  summary.composeStartToReadySeconds = +((composeReady.readyMs ?? NaN) / 1000).toFixed(2);
  const limits = (
    await run(
      'docker',
      [
        'inspect',
        '--format',
        '{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.Init}} {{.HostConfig.NetworkMode}}',
        cid,
      ],
      { timeoutMs: 20_000 },
    )
  ).stdout.trim();
  const [nanoCpus, memBytes, init, netMode] = limits.split(' ');
  check(
    Number(nanoCpus) === 2e9 && Number(memBytes) === 2 ** 30 && init === 'true' && netMode === 'host',
    `compose applied cpus 2, mem_limit 1g, init, host network (${limits})`,
  );
  await smoke(composeBase);
  summary.composeMemoryAfterSmoke = await memory(cid);
  // `stop` without -t: the file's stop_grace_period (45 s) is the timeout.
  const composeDrain = await drain(composeBase, cid, () =>
    run(compose[0], dc('stop'), { timeoutMs: (STOP_TIMEOUT_S + 30) * 1000 }),
  );
  checkDrain('docker-compose', composeDrain);
  summary.drainCompose = composeDrain;

  console.log(JSON.stringify({ summary }, null, 2));
}

async function cleanup(): Promise<void> {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups.length = 0;
  rmSync(tmp, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

const overall = setTimeout(() => {
  console.log('FAIL  the whole run took over 40 minutes; cleaning up');
  void cleanup().finally(() => process.exit(1));
}, 40 * 60_000);

try {
  await main();
} catch (err) {
  failures++;
  console.log(`FAIL  ${(err as Error).message}`);
} finally {
  clearTimeout(overall);
  await cleanup();
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
