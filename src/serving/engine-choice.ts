/**
 * What computes a model is measured, not assumed, and the measuring does not hold up readiness.
 *
 * Engines (ENGINE=auto): a version serves as soon as its first engine (ONNX Runtime, the faster on
 * every model measured so far) is warm and timed; the other engines are then loaded, warmed and
 * timed one model at a time, in one worker (the pool's trialWorker: with one session over every
 * core it computes nothing while the first worker is up), and the version switches to one that is
 * faster once every worker holds it. An engine whose first
 * two timed runs both take over CLEARLY_SLOWER times the serving engine's median is not timed
 * further (tfjs on ResNet-50 would otherwise cost seconds of both cores for a foregone answer).
 *
 * Arrangements (ONNX Runtime, ONNX_THREADS not set, two workers or more): one session using every
 * core wins on some machines, one single-thread session per worker computing batches side by side
 * on others (issue 19 measured both). With the model serving, one-thread copies are loaded, every
 * worker times them at once, the serving arrangement is timed again, and side by side serves only
 * if it serves SIDE_BY_SIDE_GAIN times the images per second without making a lone image wait more
 * than SIDE_BY_SIDE_GAIN times as long. Where the all-cores session stays but side by side serves
 * at least 1/SIDE_BY_SIDE_GAIN of its images per second, both stay (`arrangement.underLoad`): a
 * batch that leaves while another computes takes a single-thread copy (runOnServingEngine).
 *
 * Batching (neither MAX_DELAY_MS nor MAX_BATCH set): where a batch of 8 does not cost at least
 * BATCH_GAIN less per image than one image, the model's batches stop waiting for more requests, and
 * a model of BATCH_COST_MIN_MS or more an image computes one image per batch (measureBatching).
 *
 * Batches go to the copy serving at the moment they leave the batcher, and are counted per copy,
 * so a copy that loses is unloaded only after its last batch (and explanation) ended.
 */
import type { FastifyBaseLogger } from 'fastify';
import { computeSlots, type InferencePool } from '../engines/pool.js';
import type { EngineKind, LoadResult, ModelPlan } from '../engines/types.js';
import {
  engineKey,
  released,
  type ServedModel,
  SIDE_BY_SIDE_THREADS,
  servingKey,
  sideBySideKey,
} from './served-model.js';
import type { RunBatch } from './batcher.js';

/** Timed runs per engine; their median is compared. */
export const TIMED_RUNS = 5;
/** Over this multiple of the serving engine's median, an engine is clearly slower: timing stops. */
export const CLEARLY_SLOWER = 2;

/** The batcher's run: each batch on the copy serving `model` when the batch leaves. */
export function runOnServingEngine(pool: InferencePool, model: ServedModel): RunBatch {
  const running = new Map<string, Set<Promise<Float32Array>>>();
  model.batchesRunning = running;
  return (packed) => {
    // With an under-load arrangement, a batch that leaves while another computes takes a
    // single-thread copy (the least busy worker's); a lone batch takes every core.
    const busy = model.arrangement?.underLoad !== undefined && [...running.values()].some((s) => s.size > 0);
    const key = busy ? sideBySideKey(model) : servingKey(model);
    const batch = pool.infer(key, packed, model.engine);
    const set = running.get(key) ?? new Set();
    running.set(key, set);
    set.add(batch);
    const done = () => set.delete(batch);
    batch.then(done, done);
    return batch;
  };
}

/**
 * Loads a copy of `model` in every worker and runs one batch on each (first calls compile and
 * allocate); says how long the warm-up took.
 */
export async function loadAndWarm(
  pool: InferencePool,
  model: ServedModel,
  kind: EngineKind,
  zeros: Float32Array,
  copy: {
    /** ONNX Runtime threads of this copy (default ONNX_THREADS). */
    threads?: number;
    /** Only these workers (a trial). */
    on?: number[];
    /** What else the workers need to build it (a reduced precision's calibration). */
    plan?: Partial<ModelPlan>;
  } = {},
): Promise<LoadResult & { warmupMs: number }> {
  if (!model.graph || !model.weightsPath) throw new Error(`${model.name} has no graph or weights yet`);
  const { threads, on } = copy;
  const key = engineKey(model.engineName, kind, threads);
  const loaded = await pool.load(
    {
      ...copy.plan,
      name: key,
      graph: model.graph,
      weightsPath: model.weightsPath,
      engine: kind,
      ...(threads === undefined ? {} : { threads }),
    },
    on,
  );
  const t0 = performance.now();
  await pool.inferOnAll(key, zeros, 1, on);
  return { ...loaded, warmupMs: performance.now() - t0 };
}

/** Makes `change` the serving copy, then unloads the one it replaced once nothing computes on it. */
async function switchCopy(pool: InferencePool, model: ServedModel, change: () => void): Promise<void> {
  const from = servingKey(model);
  change();
  model.batcher?.setConcurrency(
    pool.batchesInFlight(model.engine, model.engine === 'onnxruntime' ? model.sessionThreads : undefined),
  );
  await Promise.allSettled([...(model.batchesRunning?.get(from) ?? [])]);
  await released(model);
  await pool.unload(from);
}

const arrangementName = (workers: number, threads: number) => {
  const sessions = computeSlots(workers, threads);
  return `${sessions} session${sessions === 1 ? '' : 's'} x ${threads} thread${threads === 1 ? '' : 's'}`;
};

/**
 * One-thread sessions side by side replace the all-cores session only if they serve this many
 * times its images per second AND a lone image on one of them takes at most this many times as
 * long. Where a second thread speeds an image up (ResNet-50 here: 44 against 24 ms), a lone request
 * would wait far longer for a few percent of throughput under saturation (a bench run that chose
 * them served concurrency 1 at half the images per second); the 28x28 default models, which two
 * threads barely speed up, serve 1.7-3x the images side by side.
 */
export const SIDE_BY_SIDE_GAIN = 1.2;

/** Whether ONNX Runtime's other arrangement is worth measuring for `model` (see the top). */
export function arrangementToMeasure(pool: InferencePool, fixed: boolean): boolean {
  return !fixed && pool.size >= 2 && pool.onnxThreads !== SIDE_BY_SIDE_THREADS;
}

async function measureEngines(
  pool: InferencePool,
  model: ServedModel,
  zeros: Float32Array,
  stopped: () => boolean,
): Promise<void> {
  const timings = model.engineTimings;
  if (!timings?.measuring) return;
  while (timings.measuring.length > 0 && !stopped() && model.state === 'ready') {
    const kind = timings.measuring[0];
    const key = engineKey(model.engineName, kind);
    const serving = model.engine;
    // On trial in one worker first: loading and timing tfjs blocks its worker for seconds.
    const trial = pool.trialWorker;
    try {
      await loadAndWarm(pool, model, kind, zeros, { on: [trial] });
      const servingMs = timings.msPerImage[serving] ?? Number.POSITIVE_INFINITY;
      const t = await pool.time(key, zeros, 1, TIMED_RUNS, servingMs * CLEARLY_SLOWER, trial);
      timings.msPerImage[kind] = t.medianMs;
      if (t.runs < TIMED_RUNS) timings.stoppedEarly = [...(timings.stoppedEarly ?? []), kind];
      if (t.medianMs < servingMs) {
        // Traffic or other loads may have slowed the first timing: time the serving engine again
        // now, on the same worker.
        const again = await pool.time(servingKey(model), zeros, 1, TIMED_RUNS, undefined, trial);
        timings.msPerImage[serving] = again.medianMs;
      }
      const faster = t.medianMs < (timings.msPerImage[serving] ?? Number.POSITIVE_INFINITY);
      if (faster) {
        const others = Array.from({ length: pool.size }, (_, i) => i).filter((i) => i !== trial);
        if (others.length) await loadAndWarm(pool, model, kind, zeros, { on: others });
        await switchCopy(pool, model, () => {
          model.engine = kind;
        });
      } else await pool.unload(key);
    } catch (err) {
      timings.failures = { ...timings.failures, [kind]: (err as Error).message };
      await pool.unload(key); // a copy that loaded in some workers must not stay resident
    }
    timings.measuring.shift();
  }
  if (timings.measuring.length === 0) delete timings.measuring;
}

async function measureArrangement(
  pool: InferencePool,
  model: ServedModel,
  zeros: Float32Array,
): Promise<void> {
  const arrangement = model.arrangement;
  if (!arrangement?.measuring) return;
  if (model.engine !== 'onnxruntime') {
    delete model.arrangement; // tfjs serves: ONNX Runtime's arrangement no longer applies
    return;
  }
  if (model.state !== 'ready') {
    delete arrangement.measuring;
    return;
  }
  const workers = pool.size;
  const threads = SIDE_BY_SIDE_THREADS;
  const key = sideBySideKey(model);
  try {
    await loadAndWarm(pool, model, 'onnxruntime', zeros, { threads });
    const sideBySide = await pool.timeOnAll(key, zeros, 1, TIMED_RUNS);
    // Every session computes at once: the images per second add up.
    const sideRate = sideBySide.reduce((sum, t) => sum + 1000 / t.medianMs, 0);
    const servingThreads = pool.onnxThreads;
    const serving = await pool.time(servingKey(model), zeros, 1, TIMED_RUNS);
    const servingRate = (computeSlots(workers, servingThreads) * 1000) / serving.medianMs;
    const other = arrangementName(workers, threads);
    arrangement.imagesPerS = { [arrangement.serving]: servingRate, [other]: sideRate };
    // The slowest side-by-side session is what a lone request may get.
    const sideMs = Math.max(...sideBySide.map((t) => t.medianMs));
    const loneRequestSlower = sideMs / serving.medianMs;
    arrangement.loneImageMs = { [arrangement.serving]: serving.medianMs, [other]: sideMs };
    if (sideRate > servingRate * SIDE_BY_SIDE_GAIN && loneRequestSlower <= SIDE_BY_SIDE_GAIN) {
      await switchCopy(pool, model, () => {
        model.sessionThreads = threads;
      });
      arrangement.serving = other;
    } else if (sideRate * SIDE_BY_SIDE_GAIN >= servingRate) {
      // A lone image is faster on every core, but side by side serves about as many images per
      // second timed alone, and more under HTTP load (2-core AVX2 EPYC, resnet50_tv: 1.04-1.20x
      // the in-process anchor at concurrency 4 against 0.74-1.01x): keep both copies.
      arrangement.underLoad = other;
    } else {
      await pool.unload(key);
    }
  } catch (err) {
    arrangement.error = (err as Error).message;
    await pool.unload(key);
  } finally {
    delete arrangement.measuring; // only now: /models says `measuring` until the choice is made
  }
}

/** A batch must cost at least this much less per image than one image for waiting to pay. */
export const BATCH_GAIN = 0.05;
/**
 * Batches are capped at one image only for a model whose image takes at least this long: below it
 * the round trips of single images (the batcher, the pool's messages, packing an input) weigh
 * against the engine's time, and timings on a loaded machine are noise (the 28x28 default models,
 * timed while 32 connections classified, once measured a cost, and capped they served far fewer).
 */
export const BATCH_COST_MIN_MS = 20;
/**
 * The batch size measured against batch 1 (or MAX_BATCH when smaller): the size batches reach
 * under load, where they fill. A smaller one can mislead: one-thread ResNet-50 sessions on a
 * 2-core AVX2 EPYC, in-process, take 1.07x batch 1's time per image at batch 8 (activations past
 * the caches), while batch 4 timed in the workers came out anywhere from 0.93x to 1.09x; served at
 * concurrency 16 with MAX_BATCH 1 / 4 / 8, 13.7-13.9 / 12.2-12.7 / 12.1-13.7 images/s.
 */
const BATCH_MEASURED = 8;

/**
 * About how long the timed runs of the measured batch may take in all: tfjs on wasm takes
 * ResNet-50's batch of 8 in 4.4 s on a 2-core AVX2 EPYC, and five of them held a worker for 22 s.
 */
export const BATCH_TIMING_BUDGET_MS = 5000;
/** Timed runs of a batch expected to take `batchMs`: within the budget, at least 2, at most TIMED_RUNS. */
export const batchRuns = (batchMs: number) =>
  Math.max(2, Math.min(TIMED_RUNS, Math.floor(BATCH_TIMING_BUDGET_MS / batchMs)));

/**
 * Whether `model`'s copy on `threads` computes side by side with its copies in the other workers
 * under load: then a batch's cost is what it costs while they compute too (they share the
 * caches and the memory bandwidth that large batches' activations spill into). Only ONNX
 * Runtime's: tfjs on wasm computes synchronously, so timing it in every worker at once would hold
 * up every answer.
 */
const sideBySideTiming = (pool: InferencePool, model: ServedModel, threads?: number) =>
  model.engine === 'onnxruntime' && pool.size > 1 && !pool.allCores(threads ?? pool.onnxThreads);

/** Milliseconds per batch of `n` on every worker at once: the mean of their medians. */
async function timeSideBySide(
  pool: InferencePool,
  key: string,
  input: Float32Array,
  n: number,
  runs: number,
): Promise<number> {
  const timings = await pool.timeOnAll(key, input, n, runs);
  return timings.reduce((sum, t) => sum + t.medianMs, 0) / timings.length;
}

/**
 * Whether batching pays for `model` on this machine: the copy that computes batches under load
 * timed at batch 1 and at BATCH_MEASURED, in the trial worker, or in every worker at once where
 * copies compute side by side. Where a batch does not cost at least BATCH_GAIN less per image, waiting
 * MAX_DELAY_MS for requests to join it only adds latency, so batches stop waiting; on a model whose
 * image takes BATCH_COST_MIN_MS or more, even what is queued then goes one image at a time
 * (ResNet-50 on a 2-core AVX2 EPYC: served at concurrency 16 with batches of 8, 0.94-0.96x the
 * in-process anchor, with one image per batch 1.06-1.08x).
 */
async function measureBatching(pool: InferencePool, model: ServedModel): Promise<void> {
  const gain = model.batchingGain;
  if (!gain?.measuring) return;
  if (model.state !== 'ready' || !model.graph) {
    delete gain.measuring;
    return;
  }
  const n = Math.min(BATCH_MEASURED, model.batching.maxBatch);
  const elements = model.graph.input.reduce((a, b) => a * b, 1);
  try {
    // Batches fill only under load: time the copy that computes them then, as it computes then.
    const underLoad = model.arrangement?.underLoad !== undefined;
    const key = underLoad ? sideBySideKey(model) : servingKey(model);
    const threads = underLoad ? SIDE_BY_SIDE_THREADS : model.sessionThreads;
    const timeAt = sideBySideTiming(pool, model, threads)
      ? (input: Float32Array, size: number, runs: number) => timeSideBySide(pool, key, input, size, runs)
      : (input: Float32Array, size: number, runs: number) =>
          pool.time(key, input, size, runs, undefined, pool.trialWorker).then((t) => t.medianMs);
    const batch = new Float32Array(n * elements);
    // A batch size a session has not seen yet costs extra once (ONNX Runtime plans its memory).
    await timeAt(batch, n, 1);
    // Two requests to the worker, not one per run: with one worker the trial worker also serves.
    // Timed in turns, run by run (against a drifting VM), the version-swap-under-load test went
    // past its bound twice on a loaded CI machine (5.9-6.4 s, where 2.5 s is usual); this form passes.
    const one = await timeAt(new Float32Array(elements), 1, TIMED_RUNS);
    const many = await timeAt(batch, n, batchRuns(n * one));
    gain.msPerImage = { '1': one, [String(n)]: many / n };
    gain.pays = many / n < one * (1 - BATCH_GAIN);
    // Where a batch does not pay, its images wait for one another's results, and on these VMs a
    // batch that measured even cost more under load (cache and memory bandwidth shared by the
    // copies). On a small model, though, the round trip each single image takes through the
    // batcher, the pool and the worker (which the timing inside the worker does not see) outweighs
    // what batching costs in the engine, so there batches keep taking what is queued.
    gain.oneImagePerBatch = !gain.pays && one >= BATCH_COST_MIN_MS;
    if (!gain.pays) model.batcher?.setMaxDelay(0);
    if (gain.oneImagePerBatch) model.batcher?.setMaxBatch(1);
  } catch (err) {
    gain.error = (err as Error).message;
  } finally {
    delete gain.measuring; // only now: /models says `measuring` until the answer is in
  }
}

/** The arrangement ONNX_THREADS gives, before anything is measured. */
export function initialArrangement(pool: InferencePool, measure: boolean): ServedModel['arrangement'] {
  const serving = arrangementName(pool.size, pool.onnxThreads);
  return { imagesPerS: {}, serving, ...(measure ? { measuring: true } : {}) };
}

/**
 * What loading left for after `model` serves: its serving copy in the workers that do not hold it
 * yet, then the engines `engineTimings.measuring` lists, (on ONNX Runtime) the other arrangement,
 * and whether batching pays. `stopped` ends it early (shutdown).
 */
export async function measureAfterReady(
  pool: InferencePool,
  model: ServedModel,
  log: FastifyBaseLogger,
  stopped: () => boolean,
): Promise<void> {
  const zeros = new Float32Array((model.graph?.input ?? [0, 0, 0]).reduce((a, b) => a * b, 1));
  // A copy that serves from one worker (one session over every core) reaches the others first:
  // failover, explanations and the measurements below use them.
  if (model.state === 'ready' && !stopped())
    await pool
      .spread(servingKey(model), zeros)
      .catch((err: Error) =>
        log.warn(
          { model: model.name, version: model.version, err: err.message },
          'serving copy not loaded in every worker; it serves from the one it is in',
        ),
      );
  if (
    !model.engineTimings?.measuring?.length &&
    !model.arrangement?.measuring &&
    !model.batchingGain?.measuring
  )
    return;
  const started = performance.now();
  await measureEngines(pool, model, zeros, stopped);
  if (!stopped()) await measureArrangement(pool, model, zeros);
  if (!stopped()) await measureBatching(pool, model);
  log.info(
    {
      model: model.name,
      version: model.version,
      engine: model.engine,
      engineTimings: model.engineTimings,
      arrangement: model.arrangement,
      batchingGain: model.batchingGain,
      measureMs: Math.round(performance.now() - started),
    },
    'engine chosen by measurement',
  );
}
