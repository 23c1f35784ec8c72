/**
 * Loading one version of a model: read its topology and weights, check them, load them into every
 * inference worker, warm them up, and give it a batcher. With ENGINE=auto it serves with the first
 * engine that runs; src/serving/engine-choice.ts measures the others once it serves. A version
 * that fails is marked failed with its reason, and leaves nothing resident.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyBaseLogger } from 'fastify';
import { analyzeGraph } from '../analysis/analyze.js';
import { graphFromModelFile } from '../interop/model-files.js';
import type { InferencePool } from '../engines/pool.js';
import type { EngineKind, ModelPlan, Precision } from '../engines/types.js';
import { normalizeSpec } from '../spec/normalize.js';
import { WeightsError } from '../weights/types.js';
import { Batcher, type BatchObserver, type BatchSettings } from './batcher.js';
import {
  architectureSpec,
  fileInFolder,
  ModelConfigError,
  readLabels,
  resolvePreprocess,
  type ModelConfig,
} from './model-config.js';
import { allEngineKeys, engineKey, type ServedModel } from './served-model.js';
import {
  arrangementToMeasure,
  initialArrangement,
  loadAndWarm,
  runOnServingEngine,
  TIMED_RUNS,
} from './engine-choice.js';
import { judgePrecision, PrecisionRefusedError, readCalibrationSet, resolvePrecision } from './precision.js';
import { defined } from '../invariant.js';

export type EngineChoice = EngineKind | 'auto';

export interface LoadOptions {
  engine: EngineChoice;
  /** ONNX_THREADS was set: serve with it, measure no other arrangement. */
  onnxThreadsFixed?: boolean;
  /** MAX_DELAY_MS or MAX_BATCH was set: batch as set, whatever batches cost per image. */
  batchingFixed?: boolean;
  /** PRECISION: the precision of models whose config.json does not name one (default fp32). */
  precision?: Precision;
  maxImagesPerRequest: number;
  batching: Omit<BatchSettings, 'concurrency'>;
  observer?: (model: string) => BatchObserver;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The version's own labels file if it has one, else the one beside config.json. */
async function labelsFile(model: ServedModel, labels: string): Promise<string> {
  const own = fileInFolder(model.versionDir, labels, 'labels');
  if (model.versionDir === model.dir) return own;
  const isFile = async (file: string) => (await stat(file).catch(() => undefined))?.isFile() === true;
  if (await isFile(own)) return own;
  const shared = fileInFolder(model.dir, labels, 'labels');
  if (await isFile(shared)) return shared;
  throw new ModelConfigError(`labels: file ${labels} found in neither ${model.versionDir} nor ${model.dir}`);
}

export function failVersion(
  model: ServedModel,
  err: Error & { problems?: Record<string, unknown>[] },
  log: FastifyBaseLogger,
): void {
  model.state = 'failed';
  model.error = err.message;
  if (err instanceof PrecisionRefusedError) model.precisionCheck = (err as PrecisionRefusedError).check;
  if (err.problems) model.problems = err.problems.slice(0, 50);
  log.error({ model: model.name, version: model.version, err: err.message }, 'model refused');
}

/**
 * The engines that may serve a model at `precision`: the one ENGINE names, or with `auto` both (to
 * be timed). Only ONNX Runtime computes below fp32, so a reduced precision is served by it whatever
 * `auto` would time, and ENGINE=tfjs refuses it (`source` says who asked for it).
 */
export function enginesFor(precision: Precision, engine: EngineChoice, source: string): EngineKind[] {
  if (precision === 'fp32') return engine === 'auto' ? ['onnxruntime', 'tfjs'] : [engine];
  if (engine === 'tfjs')
    throw new ModelConfigError(
      `${source} ${precision}: only ONNX Runtime computes below fp32, and ENGINE=tfjs serves fp32 only; set ENGINE=onnxruntime or auto`,
    );
  return ['onnxruntime'];
}

/**
 * The precision the version is served at (set on `model`), the engines that may serve it, and for
 * a reduced precision what the workers need to build it and the load needs to judge it: the plan's
 * fields, the calibration images' classes and the limits.
 */
async function precisionPlan(
  model: ServedModel,
  config: ModelConfig,
  options: LoadOptions,
  preprocess: NonNullable<ServedModel['preprocess']>,
  labels: string[],
) {
  const precision = resolvePrecision(config, options.precision ?? 'fp32');
  model.precision = precision;
  const source = config.precision ? 'config.json precision' : 'PRECISION';
  const candidates = enginesFor(precision, options.engine, source);
  if (precision === 'fp32') return { candidates };
  if (precision === 'bf16') {
    // Probed on this ONNX Runtime, not assumed; imported here so that fp32 services never load it on the main thread.
    const { bf16ConvUnsupported } = await import('../engines/precision.js');
    const why = await bf16ConvUnsupported();
    throw new PrecisionRefusedError(
      why
        ? `${source} bf16 refused: ONNX Runtime's CPU provider cannot compute a convolution in bfloat16 here (${why.split('\n')[0]}); its only bf16 switch, mlas.enable_gemm_fastmath_arm64_bfloat16, is for ARM64. Serve fp32 or int8`
        : `${source} bf16 refused: this ONNX Runtime has a bf16 convolution, but the service emits no bf16 graph yet. Serve fp32 or int8`,
    );
  }
  if (!config.calibration)
    throw new ModelConfigError(
      `${source} int8 needs calibration images (config.json's calibration.images, a folder of the model's): they set int8's ranges, and int8's agreement with fp32 is measured on them before it is served`,
    );
  const { set, labels: classes } = await readCalibrationSet(
    model.dir,
    config.calibration,
    preprocess,
    labels,
  );
  const plan: Pick<ModelPlan, 'precision' | 'calibration'> = { precision: 'int8', calibration: set };
  return { candidates, reduced: { precision, plan, labels: classes, calibration: config.calibration } };
}

export async function loadVersion(
  pool: InferencePool,
  options: LoadOptions,
  model: ServedModel,
  log: FastifyBaseLogger,
): Promise<void> {
  const started = performance.now();
  try {
    const config = defined(model.config, `${model.name}'s config`);
    const weightsPath = fileInFolder(model.versionDir, config.weights, 'weights');
    await stat(weightsPath).catch(() => {
      throw new Error(`weights: file ${config.weights} not found in ${model.versionDir}`);
    });
    // A zoo name or spec gives the topology; otherwise the model file itself does (ONNX, tfjs model.json, Keras H5).
    const fromFile =
      config.architecture === undefined ? await graphFromModelFile(weightsPath, config.input) : undefined;
    const graph = fromFile
      ? fromFile.graph
      : normalizeSpec(architectureSpec(config as ModelConfig & Required<Pick<ModelConfig, 'architecture'>>));
    const report = analyzeGraph(graph);
    const classes = report.output[report.output.length - 1];
    if (report.output.length !== 1)
      throw new Error(
        `architecture output ${JSON.stringify(report.output)} is not a class vector; a classifier needs includeTop`,
      );
    model.graph = graph;
    model.report = report;
    model.architecture =
      config.architecture === undefined
        ? graph.name
        : typeof config.architecture === 'string'
          ? config.architecture
          : 'name' in config.architecture
            ? config.architecture.name
            : graph.name;
    model.source = fromFile
      ? fromFile.format
      : typeof config.architecture === 'object' && 'spec' in config.architecture
        ? 'spec'
        : 'zoo';
    model.input = graph.input;
    model.classes = classes;
    model.params = report.totals.params;
    model.macs = report.totals.macs;
    model.preprocess = resolvePreprocess(config, graph.input);
    model.topk = config.topk ?? Math.min(5, classes);
    model.batching = { ...model.batching, ...config.batching };
    if (model.batching.queueLimit < options.maxImagesPerRequest) {
      throw new Error(
        `batching.queueLimit ${model.batching.queueLimit} is below MAX_IMAGES_PER_REQUEST (${options.maxImagesPerRequest}): a full request could never be queued`,
      );
    }
    model.labels = config.labels
      ? await readLabels(await labelsFile(model, config.labels), classes)
      : Array.from({ length: classes }, (_, i) => String(i));
    const bytes = (await stat(weightsPath)).size;
    // Hashed while the workers load: 100 MB of SHA-256 is a quarter second of the main thread.
    const hashed = sha256(weightsPath);
    hashed.catch(() => undefined); // awaited below; a failed load must not leave it unhandled
    model.backend = await pool.backend;
    model.weightsPath = weightsPath;
    const elements = graph.input[0] * graph.input[1] * graph.input[2];
    const zeros = new Float32Array(elements);
    const { candidates, reduced } = await precisionPlan(
      model,
      config,
      options,
      model.preprocess,
      model.labels,
    );
    const msPerImage: Partial<Record<EngineKind, number>> = {};
    const failures: Partial<Record<EngineKind, string>> = {};
    let warmupMs = 0;
    let chosen: EngineKind | undefined;
    // The first engine that runs serves; with `auto` the rest are measured once the model serves
    // (src/serving/engine-choice.ts), so readiness waits for one engine only.
    for (const kind of candidates) {
      try {
        model.state = 'warming';
        const {
          warmupMs: firstRunMs,
          figures,
          ...loaded
        } = await loadAndWarm(pool, model, kind, zeros, {
          plan: reduced?.plan,
          // One session over every core serves from one worker: only it loads before readiness,
          // the others get the copy after (InferencePool.spread, from measureAfterReady).
          ...(kind === 'onnxruntime' && pool.allCores(pool.onnxThreads) ? { on: [0] } : {}),
        });
        model.weights = { file: config.weights, sha256: '', bytes, ...loaded };
        if (reduced)
          model.precisionCheck = judgePrecision(
            reduced.precision,
            defined(figures, 'the precision figures of the loaded model'),
            reduced.labels,
            reduced.calibration,
          );
        const t1 = performance.now();
        if (candidates.length > 1)
          msPerImage[kind] = (
            await pool.time(engineKey(model.engineName, kind), zeros, 1, TIMED_RUNS)
          ).medianMs;
        warmupMs += firstRunMs + performance.now() - t1;
        chosen = kind;
        break;
      } catch (err) {
        // Weights that do not fit fail every engine alike; an engine that cannot run this graph is skipped.
        if (candidates.length === 1 || err instanceof WeightsError || err instanceof PrecisionRefusedError)
          throw err;
        failures[kind] = (err as Error).message;
        await pool.unload(engineKey(model.engineName, kind)); // a copy loaded in some workers must not stay
      }
    }
    if (chosen === undefined) throw new Error(`no engine could run this model: ${JSON.stringify(failures)}`);
    model.weights = { ...(model.weights ?? { file: config.weights, bytes }), sha256: await hashed };
    model.engine = chosen;
    model.batching = { ...model.batching, concurrency: pool.batchesInFlight(chosen) };
    const toMeasure = candidates.slice(candidates.indexOf(chosen) + 1);
    model.engineTimings =
      candidates.length > 1
        ? {
            msPerImage,
            ...(Object.keys(failures).length ? { failures } : {}),
            ...(toMeasure.length ? { measuring: toMeasure } : {}),
          }
        : undefined;
    model.arrangement =
      chosen === 'onnxruntime'
        ? // A reduced precision keeps ONNX_THREADS' arrangement: its other copies would need their own build.
          initialArrangement(
            pool,
            arrangementToMeasure(pool, (options.onnxThreadsFixed ?? true) || reduced !== undefined),
          )
        : undefined;
    // Whether waiting for batches pays is measured once the model serves, unless a setting fixed it.
    model.batchingGain =
      options.batchingFixed === false &&
      config.batching?.maxDelayMs === undefined &&
      config.batching?.maxBatch === undefined &&
      model.batching.maxBatch > 1
        ? { msPerImage: {}, measuring: true }
        : undefined;
    model.loadMs = performance.now() - started - warmupMs;
    model.warmupMs = warmupMs;
    model.batcher = new Batcher(
      model.name,
      model.batching,
      runOnServingEngine(pool, model),
      elements,
      classes,
      options.observer?.(model.name),
    );
    model.state = 'ready';
    log.info(
      {
        model: model.name,
        version: model.version,
        engine: model.engine,
        engineTimings: model.engineTimings,
        precision: model.precision,
        ...(model.precisionCheck ? { precisionCheck: model.precisionCheck } : {}),
        backend: model.backend.name,
        loadMs: Math.round(model.loadMs),
        warmupMs: Math.round(model.warmupMs),
        params: model.params,
        macs: model.macs,
      },
      'model ready',
    );
  } catch (err) {
    failVersion(model, err as Error, log);
    // A copy that loaded in some workers before the failure must not stay resident.
    for (const key of allEngineKeys(model)) await pool.unload(key);
  }
}
