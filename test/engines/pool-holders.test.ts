// A copy loaded in some workers only (a serving copy before readiness, a trial) is computed only
// where it is: batches and timings go to the workers that hold it, and spread() takes it to the
// others, after which a worker that dies leaves the copy serving from the rest.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InferencePool } from '../../src/engines/pool.js';
import { floatBatch } from '../../src/engines/batch-input.js';
import { ZOO } from '../../models/index.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import { randomWeights } from '../../bench/lib/random.js';

t.test('a copy in one worker serves from it; spread takes it to the other', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pool-holders-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
  const weightsPath = path.join(dir, 'w.safetensors');
  const bound = randomWeights(inferShapes(graph), 5);
  await writeFile(
    weightsPath,
    writeSafetensors(bound.map((w) => [`${w.layer}/${w.weight}`, { shape: w.shape, data: w.data }])),
  );
  const pool = new InferencePool({ size: 2, onnxThreads: 2 });
  t.teardown(() => pool.close());
  const key = 'm#1@onnxruntime';
  const image = () => new Float32Array(28 * 28).fill(0.25);
  t.ok(pool.allCores(2), 'two workers, two-thread sessions: one worker serves');
  await pool.load({ name: key, graph, weightsPath, engine: 'onnxruntime' }, [0]);
  const reference = await pool.infer(key, floatBatch(image(), 1), 'onnxruntime');
  t.equal(reference.length, 10);
  await t.rejects(
    pool.time(key, image(), 1, 1, undefined, 1),
    /not loaded in this worker/,
    'worker 1 does not hold it yet',
  );
  const timings = await pool.timeOnAll(key, image(), 1, 1);
  t.equal(timings.length, 1, 'timing on every worker times only the one holding the copy');

  await pool.spread(key, image());
  t.equal((await pool.timeOnAll(key, image(), 1, 1)).length, 2, 'spread: both workers hold it');
  await pool.spread(key, image()); // nothing left to load: a no-op

  // Worker 0 dies: batches go on, from worker 1, while the replacement loads.
  const internals = pool as unknown as { workers: { worker: { terminate(): Promise<number> } }[] };
  await internals.workers[0].worker.terminate();
  const after = await pool.infer(key, floatBatch(image(), 1), 'onnxruntime');
  t.same([...after], [...reference], 'the same logits from the other worker');
  for (let i = 0; i < 300 && pool.liveWorkers < 2; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal(pool.liveWorkers, 2, 'the replacement is serving');
  t.equal((await pool.timeOnAll(key, image(), 1, 1)).length, 2, 'and holds the copy again');
});
