/**
 * ENGINE=auto: the engine that serves a model is measured, not assumed, but the measurement does
 * not hold up readiness. A version serves as soon as its first engine (ONNX Runtime, the faster on
 * every model measured so far) is warm and timed; the other engines are then loaded, warmed and
 * timed one model at a time, and the version switches to one that is faster. An engine whose first
 * two timed runs both take over CLEARLY_SLOWER times the serving engine's median is not timed
 * further (tfjs on ResNet-50 would otherwise cost seconds of both cores for a foregone answer).
 *
 * Batches go to the engine serving at the moment they leave the batcher, and are counted per
 * engine, so an engine that loses is unloaded only after its last batch (and explanation) ended.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { InferencePool } from '../engines/pool.js';
import type { EngineKind } from '../engines/types.js';
import { engineKey, released, type ServedModel } from './served-model.js';

/** Timed runs per engine; their median is compared. */
export const TIMED_RUNS = 5;
/** Over this multiple of the serving engine's median, an engine is clearly slower: timing stops. */
export const CLEARLY_SLOWER = 2;

type RunBatch = (input: Float32Array, n: number) => Promise<Float32Array>;

/** The batcher's run: each batch on the engine serving `model` when the batch leaves. */
export function runOnServingEngine(pool: InferencePool, model: ServedModel): RunBatch {
  const running = new Map<EngineKind, Set<Promise<Float32Array>>>();
  model.batchesRunning = running;
  return (input, n) => {
    const kind = model.engine;
    const batch = pool.infer(engineKey(model.engineName, kind), input, n, kind);
    const set = running.get(kind) ?? new Set();
    running.set(kind, set);
    set.add(batch);
    const done = () => set.delete(batch);
    batch.then(done, done);
    return batch;
  };
}

/** Resolves once the batches that went to `kind` before now have ended. */
async function batchesEnded(model: ServedModel, kind: EngineKind): Promise<void> {
  await Promise.allSettled([...(model.batchesRunning?.get(kind) ?? [])]);
}

/**
 * Loads `kind`'s copy of `model` in every worker and runs one batch on each (first calls compile
 * and allocate); says how long the warm-up took.
 */
export async function loadAndWarm(
  pool: InferencePool,
  model: ServedModel,
  kind: EngineKind,
  zeros: Float32Array,
): Promise<{ keyStyle: string; format: string; warmupMs: number }> {
  if (!model.graph || !model.weightsPath) throw new Error(`${model.name} has no graph or weights yet`);
  const key = engineKey(model.engineName, kind);
  const loaded = await pool.load({
    name: key,
    graph: model.graph,
    weightsPath: model.weightsPath,
    engine: kind,
  });
  const t0 = performance.now();
  await pool.inferOnAll(key, zeros, 1);
  return { ...loaded, warmupMs: performance.now() - t0 };
}

/** Switches `model` to `kind`, then unloads `from` once nothing computes on it any more. */
async function switchEngine(pool: InferencePool, model: ServedModel, kind: EngineKind): Promise<void> {
  const from = model.engine;
  model.engine = kind;
  model.batcher?.setConcurrency(pool.batchesInFlight(kind));
  await Promise.all([batchesEnded(model, from), released(model)]);
  await pool.unload(engineKey(model.engineName, from));
}

/**
 * Measures the engines `model.engineTimings.measuring` lists against the one serving, switching
 * to a faster one; the slower copies leave the workers. `stopped` ends it early (shutdown).
 */
export async function measureRemainingEngines(
  pool: InferencePool,
  model: ServedModel,
  log: FastifyBaseLogger,
  stopped: () => boolean,
): Promise<void> {
  const timings = model.engineTimings;
  if (!timings?.measuring?.length) return;
  const zeros = new Float32Array((model.graph?.input ?? [0, 0, 0]).reduce((a, b) => a * b, 1));
  const started = performance.now();
  while (timings.measuring.length > 0 && !stopped() && model.state === 'ready') {
    const kind = timings.measuring[0];
    const key = engineKey(model.engineName, kind);
    const serving = model.engine;
    try {
      await loadAndWarm(pool, model, kind, zeros);
      const servingMs = timings.msPerImage[serving] ?? Number.POSITIVE_INFINITY;
      const t = await pool.time(key, zeros, 1, TIMED_RUNS, servingMs * CLEARLY_SLOWER);
      timings.msPerImage[kind] = t.medianMs;
      if (t.runs < TIMED_RUNS) timings.stoppedEarly = [...(timings.stoppedEarly ?? []), kind];
      if (t.medianMs < servingMs) {
        // Traffic or other loads may have slowed the first timing: time the serving engine again now.
        const again = await pool.time(engineKey(model.engineName, serving), zeros, 1, TIMED_RUNS);
        timings.msPerImage[serving] = again.medianMs;
      }
      const faster = t.medianMs < (timings.msPerImage[serving] ?? Number.POSITIVE_INFINITY);
      if (faster) await switchEngine(pool, model, kind);
      else await pool.unload(key);
    } catch (err) {
      timings.failures = { ...timings.failures, [kind]: (err as Error).message };
      await pool.unload(key); // a copy that loaded in some workers must not stay resident
    }
    timings.measuring.shift();
  }
  if (timings.measuring.length === 0) delete timings.measuring;
  log.info(
    {
      model: model.name,
      version: model.version,
      engine: model.engine,
      engineTimings: timings,
      measureMs: Math.round(performance.now() - started),
    },
    'engine chosen by measurement',
  );
}
