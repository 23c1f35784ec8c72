// The registry's swap, with a pool that records what the workers are asked and holds a batch for as
// long as the test says: a retired version leaves the workers only after the batch that chose it is
// answered, new requests go to the new version at once, and a version that fails to load never
// replaces the one serving.
import t, { type Test } from 'tap';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { InferencePool } from '../../src/engines/pool.js';
import type { ModelPlan } from '../../src/engines/types.js';
import { ModelRegistry, type ReadyModel, isReady } from '../../src/serving/registry.js';
import { holdVersion } from '../../src/serving/served-model.js';

const CLASSES = 3;
const SPEC = {
  name: 'tiny',
  input: [4, 4, 1],
  layers: [
    { kind: 'globalavgpool', name: 'pool' },
    { kind: 'dense', name: 'predictions', units: CLASSES },
  ],
};

/** A pool whose batches wait until release() and whose loads fail for weights files named "broken". */
class RecordingPool {
  readonly size = 1;
  readonly backend = Promise.resolve({ name: 'cpu' as const, skipped: [] });
  readonly calls: string[] = [];
  private held: (() => void)[] = [];

  async load(plan: ModelPlan) {
    if (plan.weightsPath.includes('broken'))
      throw new Error(`cannot read ${path.basename(plan.weightsPath)}`);
    this.calls.push(`load ${plan.name}`);
    return { keyStyle: 'layer-names', format: 'test' };
  }
  async unload(model: string) {
    this.calls.push(`unload ${model}`);
  }
  async inferOnAll() {}
  /** One worker: every copy is in every worker already. */
  allCores() {
    return false;
  }
  async spread() {}
  batchesInFlight() {
    return 1;
  }
  infer(model: string, _input: Float32Array, n: number): Promise<Float32Array> {
    this.calls.push(`infer ${model}`);
    return new Promise((resolve) => this.held.push(() => resolve(new Float32Array(n * CLASSES))));
  }
  release() {
    for (const r of this.held.splice(0)) r();
  }
}

const silent = { error() {}, info() {}, warn() {}, debug() {} } as unknown as FastifyBaseLogger;
const flush = () => new Promise((r) => setTimeout(r, 20));

async function repository(t: Test) {
  const dir = await mkdtemp(path.join(tmpdir(), 'registry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'm');
  await mkdir(model);
  await writeFile(
    path.join(model, 'config.json'),
    JSON.stringify({ architecture: { spec: SPEC }, weights: 'w.bin' }),
  );
  const version = async (n: number, weights = 'w.bin') => {
    await mkdir(path.join(model, String(n)));
    await writeFile(path.join(model, String(n), 'w.bin'), weights);
  };
  const pool = new RecordingPool();
  const registry = new ModelRegistry(
    pool as unknown as InferencePool,
    {
      modelsDir: dir,
      engine: 'tfjs',
      maxImagesPerRequest: 4,
      drainTimeoutMs: 60_000,
      batching: { maxBatch: 4, maxDelayMs: 0, queueLimit: 16, timeoutMs: 60_000 },
    },
    silent,
  );
  return { model, version, pool, registry };
}

const served = (registry: ModelRegistry): ReadyModel => {
  const m = registry.get('m');
  if (!m || !isReady(m)) throw new Error(`m is not ready: ${m?.state} ${m?.error}`);
  return m;
};

t.test('the old version is unloaded only after the batch that chose it is answered', async (t) => {
  const { version, pool, registry } = await repository(t);
  await version(1);
  await registry.discover();
  await registry.loadAll();
  const v1 = served(registry);
  t.equal(v1.version, 1);
  const answer = v1.batcher.submit([new Float32Array(16)]);
  await flush();
  t.ok(pool.calls.includes(`infer ${v1.engineName}@tfjs`), 'a batch computes on version 1');

  await version(2);
  await registry.loadModel('m');
  const v2 = served(registry);
  t.equal(v2.version, 2, 'requests from now on get version 2');
  t.same(
    registry.versions('m').map((m) => m.version),
    [2],
    'version 1 is no longer listed',
  );
  await flush();
  t.notOk(
    pool.calls.includes(`unload ${v1.engineName}@tfjs`),
    'version 1 stays in the workers while its batch runs',
  );

  pool.release();
  t.equal((await answer).logits.length, 1, 'the batch is answered by version 1');
  await flush();
  const unloadedAt = pool.calls.indexOf(`unload ${v1.engineName}@tfjs`);
  t.ok(unloadedAt > pool.calls.indexOf(`infer ${v1.engineName}@tfjs`), 'then version 1 is unloaded');
  await t.rejects(
    v1.batcher.submit([new Float32Array(16)]),
    { statusCode: 503, code: 'DRAINING' },
    'and takes no work',
  );
  t.notOk(pool.calls.includes(`unload ${v2.engineName}@tfjs`), 'version 2 stays');
});

t.test(
  'a version that fails to load is refused with its reason and never replaces one that works',
  async (t) => {
    const { model, version, registry } = await repository(t);
    await version(1);
    await registry.discover();
    await registry.loadAll();
    // Version 2's weights cannot be read (the recording pool refuses files named "broken").
    await version(2);
    await writeFile(path.join(model, '2', 'broken'), 'broken');
    await writeFile(
      path.join(model, 'config.json'),
      JSON.stringify({ architecture: { spec: SPEC }, weights: 'broken', versionPolicy: { specific: [2] } }),
    );
    await t.rejects(registry.loadModel('m'), {
      statusCode: 400,
      message: /version 2: cannot read broken/,
    });
    const listed = registry.versions('m').map((m) => [m.version, m.state]);
    t.same(
      listed,
      [
        [2, 'failed'],
        [1, 'ready'],
      ],
      'version 2 listed as failed, version 1 still ready',
    );
    t.equal(served(registry).version, 1, 'requests still get version 1');
  },
);

t.test('work held outside the batcher (an explanation) keeps a retired version loaded', async (t) => {
  const { version, pool, registry } = await repository(t);
  await version(1);
  await registry.discover();
  await registry.loadAll();
  const v1 = served(registry);
  let finish = () => {};
  const explanation = holdVersion(v1, new Promise<void>((r) => (finish = r)));
  await version(2);
  await registry.loadModel('m');
  t.equal(served(registry).version, 2, 'version 2 serves');
  await flush();
  t.notOk(pool.calls.includes(`unload ${v1.engineName}@tfjs`), 'version 1 stays while the work holds it');
  finish();
  await explanation;
  await flush();
  t.ok(pool.calls.includes(`unload ${v1.engineName}@tfjs`), 'then it is unloaded');
});
