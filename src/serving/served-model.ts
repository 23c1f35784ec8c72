/**
 * What one served version of a model is: its config, graph, analysis, engine and batcher, and its
 * state from loading to ready (or failed).
 */
import type { AnalysisReport } from '../analysis/analyze.js';
import type { ModelFileFormat } from '../interop/model-files.js';
import type { BackendChoice } from '../engines/tfjs/backend.js';
import type { EngineKind, Precision } from '../engines/types.js';
import type { PrecisionCheck } from './precision.js';
import type { Graph, Shape3 } from '../spec/types.js';
import type { Batcher, BatchSettings } from './batcher.js';
import type { ModelConfig, Preprocess } from './model-config.js';

export type ModelState = 'loading' | 'warming' | 'ready' | 'failed';

/** ENGINE=auto's measurements (src/serving/engine-choice.ts). */
export interface EngineTimings {
  /** Median milliseconds per image (batch 1) on the first worker, per engine measured. */
  msPerImage: Partial<Record<EngineKind, number>>;
  /** Engines that could not run this model, with the reason. */
  failures?: Partial<Record<EngineKind, string>>;
  /** Engines still to be measured; the model serves meanwhile with the engine it reports. */
  measuring?: EngineKind[];
  /** Engines whose timing stopped after two runs, clearly slower than the serving one. */
  stoppedEarly?: EngineKind[];
}

export interface BatchingGain {
  /** Median milliseconds per image at batch 1 and at the batch measured, on the copy batches take. */
  msPerImage: Record<string, number>;
  /** Whether a batch costs at least BATCH_GAIN less per image: if not, no batch waits for more. */
  pays?: boolean;
  /**
   * Whether each batch is one image: a batch does not pay on a model whose image takes at least
   * BATCH_COST_MIN_MS, so it would only delay its first image's answer (and could cost more).
   */
  oneImagePerBatch?: boolean;
  measuring?: boolean;
  error?: string;
}

export interface ArrangementTimings {
  /** Images per second at batch 1 with every session busy, per arrangement ("1 x 2 threads"). */
  imagesPerS: Record<string, number>;
  /** Median milliseconds of one image on one session, alone, per arrangement. */
  loneImageMs?: Record<string, number>;
  /** The arrangement serving (a lone batch's, when `underLoad` is set). */
  serving: string;
  /**
   * The arrangement a batch computes on while another batch of the model is computing: one
   * single-thread session per worker, kept beside the all-cores session where a lone image is
   * faster on that one but side by side serves as many images per second (under HTTP load, decoding
   * and the event loop take a core from one of the all-cores session's threads, and the other waits
   * for it at every layer; the single-thread sessions do not wait for each other).
   */
  underLoad?: string;
  /** Still to be measured: the model serves meanwhile with ONNX_THREADS' arrangement. */
  measuring?: boolean;
  /** Why the other arrangement could not be measured. */
  error?: string;
}

/** One version of a served model (a model without version folders has the one version 1). */
export interface ServedModel {
  name: string;
  /** The model's folder, where config.json is. */
  dir: string;
  version: number;
  /** The version's folder, where its weights are (the model's folder for a flat layout). */
  versionDir: string;
  /** The fingerprint of its files when it was read (src/serving/versions.ts). */
  print: string;
  /** Its copies' name in the inference workers: unique per load, so a reload never meets the copy it replaces. */
  engineName: string;
  state: ModelState;
  /**
   * Work outside the batcher that still needs this version's copies in the workers (explanations):
   * a retired version is unloaded only once these have ended.
   */
  holds?: Set<Promise<unknown>>;
  error?: string;
  /** Why the last reload of this version failed (it kept serving), and the print that failed. */
  reloadError?: string;
  refusedPrint?: string;
  problems?: Record<string, unknown>[];
  config?: ModelConfig;
  graph?: Graph;
  /** The analysis of what is served (the graph above). */
  report?: AnalysisReport;
  architecture?: string;
  /** Where the topology came from: a zoo name, a spec, or the model file itself. */
  source?: 'zoo' | 'spec' | ModelFileFormat;
  input?: Shape3;
  classes?: number;
  labels?: string[];
  preprocess?: Preprocess;
  topk: number;
  params?: number;
  macs?: number;
  weights?: { file: string; sha256: string; bytes: number; format?: string; keyStyle?: string };
  /** The engine serving the model (with ENGINE=auto, the faster one measured; see engineTimings). */
  engine: EngineKind;
  engineTimings?: EngineTimings;
  /** Batches computing now, by the copy they went to (src/serving/engine-choice.ts). */
  batchesRunning?: Map<string, Set<Promise<Float32Array>>>;
  /** ONNX Runtime threads per session when measurement chose another arrangement than ONNX_THREADS. */
  sessionThreads?: number;
  /** Whether batches cost less per image than single images, as measured once the model serves. */
  batchingGain?: BatchingGain;
  /** ONNX Runtime arrangements measured: images/s with every worker busy, and the one serving. */
  arrangement?: ArrangementTimings;
  /** The precision it computes in (set at load: config.json's, else PRECISION). */
  precision?: Precision;
  /** For a reduced precision: its top-1 agreement (and accuracy) against fp32 on the calibration images. */
  precisionCheck?: PrecisionCheck;
  backend?: BackendChoice;
  weightsPath?: string;
  loadMs?: number;
  warmupMs?: number;
  batching: BatchSettings;
  batcher?: Batcher;
}

/** A model that can answer: loading has set everything inference reads. */
export type ReadyModel = ServedModel &
  Required<
    Pick<
      ServedModel,
      'config' | 'graph' | 'input' | 'classes' | 'labels' | 'preprocess' | 'weightsPath' | 'batcher'
    >
  >;

/** Whether `m` answers requests now (narrows it to a ReadyModel). */
export function isReady(m: ServedModel): m is ReadyModel {
  return (
    m.state === 'ready' &&
    m.config !== undefined &&
    m.graph !== undefined &&
    m.input !== undefined &&
    m.classes !== undefined &&
    m.labels !== undefined &&
    m.preprocess !== undefined &&
    m.weightsPath !== undefined &&
    m.batcher !== undefined
  );
}

export type EngineChoice = EngineKind | 'auto';

/** Worker-side name of one engine's copy of a model (`threads`: a copy with its own ORT thread count). */
export const engineKey = (engineName: string, engine: EngineKind, threads?: number) =>
  threads === undefined ? `${engineName}@${engine}` : `${engineName}@${engine}-${threads}t`;

/** ONNX Runtime threads per session of the other arrangement measured (src/serving/engine-choice.ts). */
export const SIDE_BY_SIDE_THREADS = 1;

/** The copy that computes `m`'s batches now (a lone batch's, when the arrangement has `underLoad`). */
export const servingKey = (m: ServedModel) =>
  engineKey(m.engineName, m.engine, m.engine === 'onnxruntime' ? m.sessionThreads : undefined);

/**
 * ONNX Runtime's single-thread copies of `m`: the other arrangement measured, which serves all
 * batches once chosen, or those that leave while another computes (arrangement.underLoad).
 */
export const sideBySideKey = (m: Pick<ServedModel, 'engineName'>) =>
  engineKey(m.engineName, 'onnxruntime', SIDE_BY_SIDE_THREADS);

/** Every copy a version may have in the workers (each engine, and ONNX Runtime's other arrangement). */
export const allEngineKeys = (m: Pick<ServedModel, 'engineName'>) => [
  engineKey(m.engineName, 'tfjs'),
  engineKey(m.engineName, 'onnxruntime'),
  sideBySideKey(m),
];

/** What actually computes a model: the tfjs backend, or ONNX Runtime's CPU provider. */
export function servingBackend(m: ServedModel): string | null {
  return m.engine === 'onnxruntime' ? 'onnxruntime-cpu' : (m.backend?.name ?? null);
}

/** Marks `work` as needing `m`'s copies in the workers until it ends (see `holds`). */
export function holdVersion<T>(m: ServedModel, work: Promise<T>): Promise<T> {
  m.holds ??= new Set();
  const holds = m.holds;
  holds.add(work);
  const release = () => holds.delete(work);
  work.then(release, release);
  return work;
}

/** Resolves once every work holding `m` has ended (at once if none does). */
export async function released(m: ServedModel): Promise<void> {
  await Promise.allSettled([...(m.holds ?? [])]);
}
