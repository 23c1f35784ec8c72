// Measuring after readiness (src/serving/engine-choice.ts), with a fake pool of two workers whose
// copies take a set time per image. Engines (ENGINE=auto): a clearly slower engine is timed twice
// and unloaded; a faster one takes over the batches (and the batcher's concurrency), and the engine
// it replaces is unloaded only after its last batch ended; an engine that fails is reported and
// leaves nothing loaded. Arrangements: one-thread sessions side by side replace the two-thread
// session when their summed images per second are higher, and are unloaded when not.
import t from 'tap';
import pino from 'pino';
import type { InferencePool } from '../../src/engines/pool.js';
import type { EngineKind, EngineTiming, ModelPlan } from '../../src/engines/types.js';
import type { PackedBatch } from '../../src/engines/batch-input.js';
import { Batcher } from '../../src/serving/batcher.js';
import {
  initialArrangement,
  measureAfterReady,
  batchRuns,
  runOnServingEngine,
} from '../../src/serving/engine-choice.js';
import type { ServedModel } from '../../src/serving/served-model.js';
import type { Graph } from '../../src/spec/types.js';

const log = pino({ level: 'silent' });

type Copy = EngineKind | 'onnxruntime-1t';
/** `ms` per image at batch 1; a batch of n takes n · ms · batchFactor (default 1: batching saves nothing). */
type FakeCopy = { ms: number; fails?: boolean; concurrency: number; batchFactor?: number };

/** Copies by key suffix: milliseconds per timed run, whether loading fails, batches in flight allowed. */
function fakePool(engines: Partial<Record<Copy, FakeCopy>>) {
  const loaded = new Set<string>();
  const events: string[] = [];
  /** The runs each `time` call asked for, in order. */
  const runCounts: number[] = [];
  let release: (() => void) | undefined;
  const kindOf = (key: string) => key.slice(key.lastIndexOf('@') + 1) as Copy;
  const copy = (key: string) => engines[kindOf(key)] ?? { ms: 1, concurrency: 1 };
  const batchMs = (key: string, n: number) => {
    const c = copy(key);
    return n === 1 ? c.ms : n * c.ms * (c.batchFactor ?? 1);
  };
  const pool = {
    size: 2,
    onnxThreads: 2,
    trialWorker: 1,
    async load(plan: ModelPlan, on?: number[]) {
      if (copy(plan.name).fails) throw new Error(`${plan.engine} cannot run this graph`);
      loaded.add(plan.name);
      events.push(`load ${kindOf(plan.name)} on ${on?.join(',') ?? 'all'}`);
      return { keyStyle: 'ours', format: 'safetensors' };
    },
    async inferOnAll() {},
    /** A copy loaded in one worker reaches the other (InferencePool.spread). */
    async spread(key: string) {
      events.push(`spread ${kindOf(key)}`);
    },
    async time(key: string, _input: Float32Array, n: number, runs: number, stopAboveMs?: number) {
      runCounts.push(runs);
      const ms = batchMs(key, n);
      const stops = stopAboveMs !== undefined && ms > stopAboveMs;
      events.push(`time ${kindOf(key)}`);
      return { medianMs: ms, runs: stops ? 2 : runs } satisfies EngineTiming;
    },
    async unload(key: string) {
      loaded.delete(key);
      events.push(`unload ${kindOf(key)}`);
    },
    /** The first batch is held until `finishBatch()`, the rest answer at once. */
    infer(key: string, { n }: PackedBatch) {
      events.push(`infer ${kindOf(key)}`);
      if (!loaded.has(key)) return Promise.reject(new Error(`${key} is not loaded`));
      if (!release) return Promise.resolve(new Float32Array(n * 2));
      return new Promise<Float32Array>((resolve) => {
        const r = release;
        release = () => {
          r?.();
          resolve(new Float32Array(n * 2));
        };
      });
    },
    async timeOnAll(key: string, _input: Float32Array, n: number, runs: number) {
      events.push(`time both ${kindOf(key)}`);
      return [0, 1].map(() => ({ medianMs: batchMs(key, n), runs }) satisfies EngineTiming);
    },
    /** Two workers: a two-thread session takes both cores. */
    allCores: (threads: number) => threads === 2,
    batchesInFlight: (kind: EngineKind, threads?: number) =>
      copy(threads === 1 ? 'onnxruntime-1t' : kind).concurrency,
  };
  return {
    pool: pool as unknown as InferencePool,
    loaded,
    events,
    runs: runCounts,
    holdBatches: () => {
      release = () => {};
    },
    finishBatches: () => {
      const r = release;
      release = undefined;
      r?.();
    },
  };
}

function servedModel(
  pool: InferencePool,
  serving: EngineKind,
  servingMs: number,
  { measureArrangement = false, measureBatching = false } = {},
): ServedModel {
  const model: ServedModel = {
    name: 'm',
    dir: '/models/m',
    version: 1,
    versionDir: '/models/m',
    print: '',
    engineName: 'm#1',
    state: 'ready',
    graph: { name: 'g', input: [1, 1, 3], nodes: [], output: 'x' } as unknown as Graph,
    weightsPath: '/models/m/weights.safetensors',
    topk: 1,
    engine: serving,
    engineTimings: { msPerImage: { [serving]: servingMs }, measuring: ['tfjs'] },
    arrangement: initialArrangement(pool, measureArrangement),
    ...(measureBatching ? { batchingGain: { msPerImage: {}, measuring: true } } : {}),
    batching: { maxBatch: 8, maxDelayMs: 0, queueLimit: 16, concurrency: 1, timeoutMs: 5000 },
  };
  model.batcher = new Batcher('m', model.batching, runOnServingEngine(pool, model), 3, 2);
  return model;
}

t.test('a clearly slower engine is timed twice, then unloaded; the model keeps its engine', async (t) => {
  const fake = fakePool({ onnxruntime: { ms: 40, concurrency: 1 }, tfjs: { ms: 300, concurrency: 2 } });
  const model = servedModel(fake.pool, 'onnxruntime', 40);
  fake.loaded.add('m#1@onnxruntime');
  await measureAfterReady(fake.pool, model, log, () => false);
  t.equal(model.engine, 'onnxruntime');
  t.same(model.engineTimings, { msPerImage: { onnxruntime: 40, tfjs: 300 }, stoppedEarly: ['tfjs'] });
  t.same([...fake.loaded], ['m#1@onnxruntime'], 'the slower copy left the workers');
  t.equal(model.batching.concurrency, 1);
  t.equal(fake.events[0], 'spread onnxruntime', 'the serving copy reached every worker before any measuring');
});

t.test('with nothing to measure, the serving copy still reaches every worker', async (t) => {
  const fake = fakePool({ onnxruntime: { ms: 40, concurrency: 1 } });
  const model = servedModel(fake.pool, 'onnxruntime', 40);
  delete model.engineTimings;
  await measureAfterReady(fake.pool, model, log, () => false);
  t.same(fake.events, ['spread onnxruntime']);
});

t.test('a faster engine takes over; the one it replaces leaves after its last batch', async (t) => {
  const fake = fakePool({ onnxruntime: { ms: 40, concurrency: 1 }, tfjs: { ms: 10, concurrency: 2 } });
  const model = servedModel(fake.pool, 'onnxruntime', 40);
  fake.loaded.add('m#1@onnxruntime');
  fake.holdBatches();
  const running = model.batcher?.submit([new Float32Array(3)]);
  const measured = measureAfterReady(fake.pool, model, log, () => false);
  // The switch waits for the batch still computing on ONNX Runtime before unloading it.
  await new Promise((r) => setTimeout(r, 20));
  t.equal(model.engine, 'tfjs', 'new batches go to the faster engine at once');
  t.ok(fake.loaded.has('m#1@onnxruntime'), 'the replaced engine stays while its batch computes');
  t.equal(model.batching.concurrency, 2, "and the batcher allows the new engine's batches in flight");
  fake.finishBatches();
  await running;
  await measured;
  t.same([...fake.loaded], ['m#1@tfjs']);
  t.same(
    fake.events.filter((e) => e.startsWith('time')),
    ['time tfjs', 'time onnxruntime'],
    'the serving engine was timed again before losing',
  );
  t.same(
    fake.events.filter((e) => e.startsWith('load')),
    ['load tfjs on 1', 'load tfjs on 0'],
    'tfjs was tried in the worker that serves nothing, and loaded in the others once it won',
  );
  t.same(model.engineTimings, { msPerImage: { onnxruntime: 40, tfjs: 10 } });
  await model.batcher?.submit([new Float32Array(3)]);
  t.equal(fake.events.at(-1), 'infer tfjs');
});

t.test('an engine that cannot run the model is reported and leaves nothing loaded', async (t) => {
  const fake = fakePool({
    onnxruntime: { ms: 40, concurrency: 1 },
    tfjs: { ms: 1, fails: true, concurrency: 2 },
  });
  const model = servedModel(fake.pool, 'onnxruntime', 40);
  fake.loaded.add('m#1@onnxruntime');
  await measureAfterReady(fake.pool, model, log, () => false);
  t.equal(model.engine, 'onnxruntime');
  t.same(model.engineTimings, {
    msPerImage: { onnxruntime: 40 },
    failures: { tfjs: 'tfjs cannot run this graph' },
  });
  t.same([...fake.loaded], ['m#1@onnxruntime']);
});

t.test('shutting down stops the measurement before it loads anything', async (t) => {
  const fake = fakePool({ onnxruntime: { ms: 40, concurrency: 1 }, tfjs: { ms: 10, concurrency: 2 } });
  const model = servedModel(fake.pool, 'onnxruntime', 40);
  await measureAfterReady(fake.pool, model, log, () => true);
  t.same(fake.events, []);
  t.same(model.engineTimings?.measuring, ['tfjs'], 'and says which engines were never measured');
});

/**
 * A model on a two-thread session taking `allCoresMs` per image, against one-thread copies at
 * `sideMs` (and `sideBatchFactor`: see FakeCopy); with `measureBatching`, batching is measured too.
 */
async function measuredArrangement(
  allCoresMs: number,
  sideMs: number,
  { sideBatchFactor = 1, measureBatching = false } = {},
) {
  const fake = fakePool({
    onnxruntime: { ms: allCoresMs, concurrency: 1 },
    'onnxruntime-1t': { ms: sideMs, concurrency: 2, batchFactor: sideBatchFactor },
    tfjs: { ms: 300, concurrency: 2 },
  });
  const model = servedModel(fake.pool, 'onnxruntime', allCoresMs, {
    measureArrangement: true,
    measureBatching,
  });
  fake.loaded.add('m#1@onnxruntime');
  await measureAfterReady(fake.pool, model, log, () => false);
  return { fake, model };
}

t.test('one-thread sessions replace the all-cores session where a second thread barely helps', async (t) => {
  // 40 ms per image on both cores: 25 images/s; 45 ms on each of two cores at once: 44.4 (1.78x),
  // and a lone image waits 45 ms instead of 40 (1.125x).
  const { fake, model } = await measuredArrangement(40, 45);
  t.equal(model.engine, 'onnxruntime');
  t.equal(model.sessionThreads, 1);
  t.same(model.arrangement, {
    imagesPerS: { '1 session x 2 threads': 25, '2 sessions x 1 thread': 2000 / 45 },
    loneImageMs: { '1 session x 2 threads': 40, '2 sessions x 1 thread': 45 },
    serving: '2 sessions x 1 thread',
  });
  t.equal(model.batching.concurrency, 2, 'two batches in flight, one per session');
  t.same([...fake.loaded], ['m#1@onnxruntime-1t'], 'the all-cores session left the workers');
  await model.batcher?.submit([new Float32Array(3)]);
  t.equal(fake.events.at(-1), 'infer onnxruntime-1t', 'batches go to the one-thread copies');
});

t.test(
  'the all-cores session stays alone where side by side serves clearly fewer images per second',
  async (t) => {
    // 30 ms per image on both cores: 33.3 images/s; 90 ms on each core: 22.2 (0.67x).
    const { fake, model } = await measuredArrangement(30, 90);
    t.equal(model.sessionThreads, undefined);
    t.equal(model.arrangement?.serving, '1 session x 2 threads');
    t.equal(model.arrangement?.underLoad, undefined);
    t.same([...fake.loaded], ['m#1@onnxruntime'], 'the one-thread copies left the workers');
    t.equal(model.batching.concurrency, 1);
  },
);

t.test(
  'where a lone image is faster on every core but side by side serves about as many images per second, both copies stay',
  async (t) => {
    // 1.33x the images/s but a lone image waits 60 ms, not 40; 0.86x the images/s.
    for (const [allCoresMs, sideMs] of [
      [40, 60],
      [30, 70],
    ]) {
      const { fake, model } = await measuredArrangement(allCoresMs, sideMs);
      t.equal(model.sessionThreads, undefined, `${allCoresMs} ms against ${sideMs} ms`);
      t.equal(model.arrangement?.serving, '1 session x 2 threads');
      t.equal(model.arrangement?.underLoad, '2 sessions x 1 thread');
      t.same([...fake.loaded].sort(), ['m#1@onnxruntime', 'm#1@onnxruntime-1t']);
    }
  },
);

t.test('under load a batch takes a one-thread copy; a lone batch takes every core', async (t) => {
  const { fake, model } = await measuredArrangement(40, 60);
  // The real pool lets two batches of an all-cores session in flight (the second waits in the worker).
  model.batcher?.setConcurrency(2);
  fake.events.length = 0;
  await model.batcher?.submit([new Float32Array(3)]);
  t.same(fake.events, ['infer onnxruntime'], 'alone: every core');
  fake.holdBatches();
  const first = model.batcher?.submit([new Float32Array(3)]);
  await new Promise((r) => setTimeout(r, 20));
  const second = model.batcher?.submit([new Float32Array(3)]);
  await new Promise((r) => setTimeout(r, 20));
  t.same(
    fake.events.slice(1),
    ['infer onnxruntime', 'infer onnxruntime-1t'],
    'while one computes, the next takes one thread',
  );
  fake.finishBatches();
  await Promise.all([first, second]);
  await model.batcher?.submit([new Float32Array(3)]);
  t.equal(fake.events.at(-1), 'infer onnxruntime', 'alone again: every core');
});

t.test(
  'batches stop waiting where a batch does not pay, and a model of 20 ms or more an image then computes one image per batch',
  async (t) => {
    // [ms per image, batch factor, pays, one image per batch]. A 1 ms model is never capped
    // (BATCH_COST_MIN_MS: the round trips single images would take weigh against its engine time).
    for (const [ms, batchFactor, pays, oneImagePerBatch] of [
      [40, 1, false, true],
      [40, 0.97, false, true],
      [40, 0.7, true, false],
      [40, 1.2, false, true],
      [20, 1, false, true],
      [19, 1, false, false],
      [1, 1.2, false, false],
      [1, 3, false, false],
    ] as const) {
      const fake = fakePool({
        onnxruntime: { ms, concurrency: 1, batchFactor },
        tfjs: { ms: 300, concurrency: 2 },
      });
      const model = servedModel(fake.pool, 'onnxruntime', ms, { measureBatching: true });
      model.batching.maxDelayMs = 5; // the batcher's own settings (MAX_DELAY_MS)
      fake.loaded.add('m#1@onnxruntime');
      await measureAfterReady(fake.pool, model, log, () => false);
      t.same(
        model.batchingGain,
        { msPerImage: { '1': ms, '8': ms * batchFactor }, pays, oneImagePerBatch },
        `${ms} ms, batch factor ${batchFactor}`,
      );
      t.equal(
        model.batching.maxDelayMs,
        pays ? 5 : 0,
        pays ? 'batches keep waiting' : 'batches no longer wait',
      );
      t.equal(
        model.batching.maxBatch,
        oneImagePerBatch ? 1 : 8,
        oneImagePerBatch ? 'one image per batch' : 'batches keep MAX_BATCH',
      );
    }
  },
);

t.test(
  'with copies for load, batching is timed on them, in both workers at once, and capped where it costs there',
  async (t) => {
    // The all-cores session batches for free (no batchFactor); the one-thread copies take 1.2x per image.
    const { fake, model } = await measuredArrangement(40, 60, {
      sideBatchFactor: 1.2,
      measureBatching: true,
    });
    t.equal(model.arrangement?.underLoad, '2 sessions x 1 thread');
    t.same(
      fake.events.filter((e) => e.startsWith('time both')),
      [
        'time both onnxruntime-1t',
        'time both onnxruntime-1t',
        'time both onnxruntime-1t',
        'time both onnxruntime-1t',
      ],
      'the arrangement once, then batch 8 once (unseen size), batch 1 and batch 8',
    );
    t.same(model.batchingGain, { msPerImage: { '1': 60, '8': 72 }, pays: false, oneImagePerBatch: true });
    t.equal(model.batching.maxBatch, 1, 'one image per batch');
  },
);

t.test('a two-thread session alone is timed in the trial worker only', async (t) => {
  const fake = fakePool({
    onnxruntime: { ms: 40, concurrency: 1, batchFactor: 1.2 },
    tfjs: { ms: 300, concurrency: 2 },
  });
  const model = servedModel(fake.pool, 'onnxruntime', 40, { measureBatching: true });
  fake.loaded.add('m#1@onnxruntime');
  await measureAfterReady(fake.pool, model, log, () => false);
  t.notOk(
    fake.events.some((e) => e.startsWith('time both')),
    'nothing timed in both workers',
  );
  t.equal(model.batching.maxBatch, 1);
});

t.test('batching is timed at the size batches reach: MAX_BATCH when it is below 8', async (t) => {
  const fake = fakePool({
    onnxruntime: { ms: 40, concurrency: 1, batchFactor: 0.8 },
    tfjs: { ms: 300, concurrency: 2 },
  });
  const model = servedModel(fake.pool, 'onnxruntime', 40, { measureBatching: true });
  model.batching.maxBatch = 2;
  fake.loaded.add('m#1@onnxruntime');
  await measureAfterReady(fake.pool, model, log, () => false);
  t.same(model.batchingGain, { msPerImage: { '1': 40, '2': 32 }, pays: true, oneImagePerBatch: false });
  t.equal(model.batching.maxBatch, 2, 'batches keep MAX_BATCH');
});

t.test('a slow batch is timed fewer times, within the budget, never fewer than twice', async (t) => {
  t.equal(batchRuns(8 * 60), 5, 'a 0.5 s batch: every run');
  t.equal(batchRuns(8 * 130), 4, "ResNet-50's one-thread batch of 8: four runs");
  t.equal(batchRuns(8 * 550), 2, "tfjs' batch of 8 on wasm: two runs");
  const fake = fakePool({ tfjs: { ms: 600, concurrency: 2 }, onnxruntime: { ms: 40, concurrency: 1 } });
  const model = servedModel(fake.pool, 'tfjs', 600, { measureBatching: true });
  model.engineTimings = { msPerImage: { tfjs: 600 } };
  fake.loaded.add('m#1@tfjs');
  await measureAfterReady(fake.pool, model, log, () => false);
  t.same(fake.runs, [1, 5, 2], 'batch 8 once (unseen size), batch 1 five times, batch 8 twice');
});
