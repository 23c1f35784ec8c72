// Model lifecycle against the built server on 127.0.0.1, as a deployment sees it:
// - MODEL_CONTROL=poll: version 2 lands while 32 connections classify with version 1; every answer
//   is 200, each connection switches from 1 to 2 once and for good, within a poll, the settle scan
//   and the warm-up; version 1 is then unloaded. A version still being written is not loaded until
//   its files stop changing; a broken one is refused with its reason while the previous one serves;
//   a changed config.json reloads the model; a removed folder unloads it.
// - MODEL_CONTROL=explicit: the repository API behind API_KEYS, and 20 load/unload cycles that leave
//   the workers' tfjs tensor count where it was and the resident memory within 50 MB.
import t from 'tap';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SETTLE_MS } from '../../src/serving/versions.js';
import { serverProcess } from '../helpers/server-process.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FASHION = path.join(root, 'models/fashion-resnet');
const SMALL_H5 = path.join(root, 'test/fixtures/served/small-h5');
const POLL_S = 1;
const CONNECTIONS = 32;

const png = await sharp({ create: { width: 28, height: 28, channels: 3, background: '#777' } })
  .png()
  .toBuffer();

interface Answer {
  status: number;
  version?: number;
  predictions?: number;
  /** ms since the load started, when the answer arrived. */
  at: number;
}

async function classify(
  url: string,
  query = 'model=fr',
): Promise<Answer & { body: Record<string, unknown> }> {
  const res = await fetch(`${url}/classify?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: png,
  });
  const body = (await res.json()) as Record<string, unknown>;
  const results = body.results as { predictions: unknown[] }[] | undefined;
  return {
    status: res.status,
    version: body.version as number | undefined,
    predictions: results?.[0]?.predictions.length,
    at: 0,
    body,
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type IndexRow = { name: string; version?: string; state: string; reason: string };
const index = async (url: string, headers: Record<string, string> = {}) =>
  (await (await fetch(`${url}/v2/repository/index`, { method: 'POST', headers })).json()) as IndexRow[];

/** A version folder written elsewhere and renamed into place, as a deployment should. */
async function landVersion(modelDir: string, version: number, weights?: Buffer): Promise<void> {
  const staging = path.join(modelDir, `.staging-${version}`);
  await mkdir(staging);
  await cp(path.join(FASHION, 'labels.txt'), path.join(staging, 'labels.txt'));
  if (weights) await writeFile(path.join(staging, 'weights.safetensors'), weights);
  else await cp(path.join(FASHION, 'weights.safetensors'), path.join(staging, 'weights.safetensors'));
  await rename(staging, path.join(modelDir, String(version)));
}

// Both servers start side by side: a start (process, backends, first model) is most of this file's time.
const pollRepo = await mkdtemp(path.join(tmpdir(), 'lifecycle-'));
const explicitRepo = await mkdtemp(path.join(tmpdir(), 'lifecycle-'));
t.teardown(() => rm(pollRepo, { recursive: true, force: true }));
t.teardown(() => rm(explicitRepo, { recursive: true, force: true }));
const modelDir = path.join(pollRepo, 'fr');
await mkdir(modelDir);
const config = JSON.parse(await readFile(path.join(FASHION, 'config.json'), 'utf8'));
await writeFile(path.join(modelDir, 'config.json'), JSON.stringify({ ...config, name: 'fr' }));
await landVersion(modelDir, 1);
await cp(SMALL_H5, path.join(explicitRepo, 'small-h5'), { recursive: true, dereference: true });
const [poll, explicit] = await Promise.all([
  serverProcess(t, {
    MODELS_DIR: pollRepo,
    MODEL_POLL_S: String(POLL_S),
    ENGINE: 'onnxruntime',
    WORKERS: '1',
    LOG_LEVEL: 'info',
  }),
  serverProcess(t, {
    MODELS_DIR: explicitRepo,
    MODEL_CONTROL: 'explicit',
    ENGINE: 'tfjs',
    WORKERS: '1',
    API_KEYS: 'k1',
  }),
]);

t.test(
  'MODEL_CONTROL=poll: versions swap under load, and nothing half-written or broken is served',
  async (t) => {
    const url = poll.url;
    const server = poll;
    await waitFor('version 1 ready', async () => ((await classify(url)).status === 200 ? true : undefined));

    // 32 connections classify without naming a version; version 2 lands once version 1 has answered a while.
    const started = performance.now();
    const answers: Answer[][] = Array.from({ length: CONNECTIONS }, () => []);
    let swappedAt = Number.POSITIVE_INFINITY;
    let firstV2 = Number.POSITIVE_INFINITY;
    let stop = false;
    const connections = answers.map(async (mine) => {
      while (!stop) {
        const a = await classify(url);
        a.at = performance.now() - started;
        mine.push({ status: a.status, version: a.version, at: a.at });
        if (a.version === 2) firstV2 = Math.min(firstV2, a.at);
        if (a.at - firstV2 > 500 || a.at > 30_000) stop = true;
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    await landVersion(modelDir, 2);
    swappedAt = performance.now() - started;
    await Promise.all(connections);

    const all = answers.flat();
    const statuses: Record<number, number> = {};
    for (const a of all) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
    t.same(statuses, { 200: all.length }, `every one of ${all.length} answers is 200`);
    const v1 = all.filter((a) => a.version === 1).length;
    const v2 = all.filter((a) => a.version === 2).length;
    t.equal(v1 + v2, all.length, 'every answer says version 1 or 2');
    t.ok(v1 > 0 && v2 > 0, `${v1} answers by version 1, then ${v2} by version 2`);
    for (const [i, mine] of answers.entries()) {
      const switched = mine.findIndex((a) => a.version === 2);
      t.ok(
        switched > 0 && mine.slice(switched).every((a) => a.version === 2),
        `connection ${i} switches once, from 1 to 2`,
        { versions: mine.map((a) => a.version).join('') },
      );
    }
    const described = (await (await fetch(`${url}/models/fr`)).json()) as {
      version: number;
      loadMs: number;
      warmupMs: number;
      versions: { version: number; state: string }[];
    };
    t.same(described.versions, [{ version: 2, state: 'ready' }], 'version 1 is no longer listed');
    const swapMs = firstV2 - swappedAt;
    const bound = POLL_S * 1000 + SETTLE_MS + described.loadMs + described.warmupMs + 1500;
    t.ok(
      swapMs < bound,
      `first answer by version 2 ${Math.round(swapMs)} ms after it landed (bound ${Math.round(bound)} ms)`,
    );
    t.comment(
      `swap under ${CONNECTIONS} connections: ${all.length} requests, statuses ${JSON.stringify(statuses)}, ${v1} by v1 and ${v2} by v2, v2 answered ${Math.round(swapMs)} ms after landing (load ${Math.round(described.loadMs)} ms, warm-up ${Math.round(described.warmupMs)} ms)`,
    );
    await waitFor('version 1 unloaded', async () =>
      /"model":"fr","version":1,"msg":"model version unloaded"/.test(server.log()) ? true : undefined,
    );

    // Naming a version: the one served answers and says so; one gone or malformed is a clear 4xx.
    t.match(await classify(url, 'model=fr&version=2'), { status: 200, version: 2 });
    t.match((await classify(url, 'model=fr&version=1')).body, {
      statusCode: 404,
      code: 'VERSION_NOT_FOUND',
      field: 'version',
      received: 1,
      available: [2],
    });
    t.match((await classify(url, 'model=fr&version=two')).body, {
      statusCode: 400,
      field: 'query.version',
      received: 'two',
      expected: 'a positive integer',
    });
    const kserve = (path: string, body?: unknown) =>
      fetch(`${url}/v2/models/fr${path}`, {
        method: body ? 'POST' : 'GET',
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    const zeros = {
      inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'FP32', data: new Array(784).fill(0) }],
    };
    t.match(await (await kserve('/versions/2/infer', zeros)).json(), {
      model_name: 'fr',
      model_version: '2',
    });
    t.match(await (await kserve('/infer', zeros)).json(), { model_version: '2' }, 'no version: the newest');
    t.equal((await kserve('/versions/2/ready')).status, 200);
    t.equal((await kserve('/versions/1/ready')).status, 404, 'version 1 is gone');
    t.match(await (await kserve('')).json(), { versions: ['2'] });

    // Version 3 written in place, slowly: not loaded (nor refused) while its weights grow.
    const v3 = path.join(modelDir, '3');
    await mkdir(v3);
    await cp(path.join(FASHION, 'labels.txt'), path.join(v3, 'labels.txt'));
    const weights = await readFile(path.join(FASHION, 'weights.safetensors'));
    const file = await open(path.join(v3, 'weights.safetensors'), 'w');
    const chunks = 3;
    for (let i = 0; i < chunks; i++) {
      await file.write(weights.subarray((i * weights.length) / chunks, ((i + 1) * weights.length) / chunks));
      await new Promise((r) => setTimeout(r, 500));
      t.notOk(
        (await index(url)).some((r) => r.version === '3'),
        `version 3 not taken up while ${i + 1}/${chunks} of its weights are written`,
      );
    }
    await file.close();
    t.notMatch(server.log(), /"version":3,"err"/, 'nor refused for being half written');
    await waitFor('version 3 answering', async () =>
      (await classify(url)).version === 3 ? true : undefined,
    );

    // Version 4 is broken: refused with its reason, version 3 keeps serving.
    await landVersion(modelDir, 4, weights.subarray(0, 100_000));
    const refused = await waitFor('version 4 refused', async () =>
      (await index(url)).find((r) => r.version === '4' && r.state === 'UNAVAILABLE'),
    );
    t.match(refused.reason, /truncated/, `version 4 refused: ${refused.reason}`);
    const during = await classify(url);
    t.match(during, { status: 200, version: 3 }, 'version 3 still answers');
    t.equal((await fetch(`${url}/health/ready`)).status, 200, 'and the service stays ready');
    t.equal((await classify(url, 'model=fr&version=4')).status, 503, 'version 4, asked for, is 503');

    // A changed config.json reloads the model (here: topk 3 -> 2).
    await writeFile(path.join(modelDir, 'config.json'), JSON.stringify({ ...config, name: 'fr', topk: 2 }));
    await waitFor('the new config served', async () =>
      (await classify(url)).predictions === 2 ? true : undefined,
    );
    t.match(
      await classify(url),
      { status: 200, version: 3, predictions: 2 },
      'version 3 reloaded with topk 2',
    );

    // The folder removed: the model unloads.
    await rm(modelDir, { recursive: true });
    await waitFor('fr gone', async () => ((await classify(url)).status === 404 ? true : undefined));
    t.notOk(
      (await index(url)).some((r) => r.name === 'fr'),
      'no longer in the index',
    );
  },
);

t.test(
  'MODEL_CONTROL=explicit: the repository API behind API_KEYS; 20 load/unload cycles leak nothing',
  async (t) => {
    const url = explicit.url;
    const repo = explicitRepo;
    const key = { authorization: 'Bearer k1' };
    const post = (p: string, headers: Record<string, string> = key) =>
      fetch(`${url}/v2/repository${p}`, { method: 'POST', headers });
    t.equal((await post('/index', {})).status, 401, 'the index needs a key');
    t.equal((await post('/models/small-h5/unload', {})).status, 401, 'so does unload');
    await waitFor('small-h5 ready', async () =>
      (await index(url, key)).some((r) => r.state === 'READY') ? true : undefined,
    );
    const missing = await post('/models/nope/load');
    t.equal(missing.status, 404);
    t.match(await missing.json(), { error: /received "nope"/ });

    const metrics = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const value = (name: string) =>
        Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
      return { rss: value('process_resident_memory_bytes'), tensors: value('tfjs_tensors') };
    };
    const cycle = async () => {
      const unloaded = await post('/models/small-h5/unload');
      t.equal(unloaded.status, 200);
      const loaded = await post('/models/small-h5/load');
      t.equal(loaded.status, 200);
    };
    await cycle(); // the first cycle grows heaps that later cycles reuse
    const before = await metrics();
    const unloadedOnce = await post('/models/small-h5/unload');
    t.equal(unloadedOnce.status, 200);
    t.same(await index(url, key), [{ name: 'small-h5', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    const gone = await fetch(`${url}/v2/models/small-h5/ready`, { headers: key });
    t.equal(gone.status, 404, 'an unloaded model is not found');
    const empty = await metrics();
    t.ok(
      empty.tensors < before.tensors,
      `unloading frees its tensors (${before.tensors} -> ${empty.tensors})`,
    );
    t.equal((await post('/models/small-h5/load')).status, 200);
    for (let i = 0; i < 20; i++) await cycle();
    const after = await metrics();
    t.equal(after.tensors, before.tensors, `tfjs tensors unchanged after 20 cycles (${after.tensors})`);
    const grewMb = (after.rss - before.rss) / 2 ** 20;
    t.ok(
      grewMb < 50,
      `resident memory within 50 MB (${(before.rss / 2 ** 20).toFixed(0)} -> ${(after.rss / 2 ** 20).toFixed(0)} MB)`,
    );
    t.comment(
      `20 cycles: rss ${(before.rss / 2 ** 20).toFixed(1)} -> ${(after.rss / 2 ** 20).toFixed(1)} MB, tensors ${before.tensors} -> ${after.tensors}`,
    );

    // A broken model is refused with its reason; it serves nothing and the call says why.
    await writeFile(path.join(repo, 'small-h5', 'weights.h5'), 'not an h5 file');
    const broken = await post('/models/small-h5/load');
    t.equal(broken.status, 400);
    t.match(await broken.json(), { error: /model small-h5: version 1: / });
  },
);
