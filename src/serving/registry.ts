/**
 * The served models: every folder of MODELS_DIR with a config.json becomes a model that is read,
 * checked, loaded into the inference workers and warmed up, one at a time. A model that fails is
 * refused with its reason and the others keep serving.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { analyzeGraph, type AnalysisReport } from '../analysis/analyze.js';
import { graphFromModelFile, type ModelFileFormat } from '../interop/model-files.js';
import type { BackendChoice } from '../engines/tfjs/backend.js';
import type { InferencePool } from '../engines/pool.js';
import type { EngineKind } from '../engines/types.js';
import { normalizeSpec } from '../spec/normalize.js';
import type { Graph, Shape3 } from '../spec/types.js';
import { ConfigError } from '../config.js';
import { WeightsError } from '../weights/types.js';
import { Batcher, type BatchObserver, type BatchSettings } from './batcher.js';
import {
  architectureSpec,
  fileInFolder,
  readLabels,
  readModelConfig,
  resolvePreprocess,
  type ModelConfig,
  type Preprocess,
} from './model-config.js';
import { defined } from '../invariant.js';

export type ModelState = 'loading' | 'warming' | 'ready' | 'failed';

export interface ServedModel {
  name: string;
  dir: string;
  state: ModelState;
  error?: string;
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
  /** The engine serving the model (with ENGINE=auto, the faster one measured at warm-up). */
  engine: EngineKind;
  engineTimings?: {
    msPerImage: Partial<Record<EngineKind, number>>;
    failures?: Partial<Record<EngineKind, string>>;
  };
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

/** Worker-side name of one engine's copy of a model. */
export const engineKey = (model: string, engine: EngineKind) => `${model}@${engine}`;

/** What actually computes a model: the tfjs backend, or ONNX Runtime's CPU provider. */
export function servingBackend(m: ServedModel): string | null {
  return m.engine === 'onnxruntime' ? 'onnxruntime-cpu' : (m.backend?.name ?? null);
}

export interface RegistryOptions {
  modelsDir: string;
  engine: EngineChoice;
  defaultModel?: string;
  /** Folder names to serve; empty means every folder. */
  only?: string[];
  maxImagesPerRequest: number;
  batching: Omit<BatchSettings, 'concurrency'>;
  observer?: (model: string) => BatchObserver;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Folders of `dir` holding a config.json, sorted by name so start-up order is stable. */
async function modelFolders(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new ConfigError(
      'MODELS_DIR',
      dir,
      `a readable folder of model folders (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const folders: string[] = [];
  for (const name of names) {
    // stat, not the directory entry: mounted volumes often present model folders as symlinks.
    const s = await stat(path.join(dir, name, 'config.json')).catch(() => null);
    if (s?.isFile()) folders.push(path.join(dir, name));
  }
  return folders.sort();
}

export class ModelRegistry {
  readonly models = new Map<string, ServedModel>();
  private loading: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly pool: InferencePool,
    private readonly options: RegistryOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Reads every model folder, then loads the models one by one. Never throws for a bad model. */
  async discover(): Promise<void> {
    const only = this.options.only?.length ? new Set(this.options.only) : undefined;
    const folders = await modelFolders(this.options.modelsDir);
    const missing = [...(only ?? [])].filter((name) => !folders.some((f) => path.basename(f) === name));
    if (missing.length)
      throw new ConfigError(
        'MODELS',
        missing.join(','),
        `folders of ${this.options.modelsDir} holding a config.json`,
      );
    for (const dir of folders) {
      if (only && !only.has(path.basename(dir))) continue;
      const model: ServedModel = {
        name: path.basename(dir),
        dir,
        state: 'loading',
        topk: 5,
        engine: this.options.engine === 'auto' ? 'tfjs' : this.options.engine,
        batching: { ...this.options.batching, concurrency: this.pool.size },
      };
      try {
        model.config = await readModelConfig(dir);
        model.name = model.config.name;
      } catch (err) {
        this.fail(model, err as Error);
      }
      if (this.models.has(model.name)) {
        this.fail(model, new Error(`another folder already serves a model named ${model.name}`));
        model.name = `${model.name}@${path.basename(dir)}`;
      }
      this.models.set(model.name, model);
    }
  }

  loadAll(): Promise<void> {
    this.loading ??= (async () => {
      for (const model of this.models.values()) {
        if (this.stopped) {
          if (model.state !== 'failed')
            this.fail(model, new Error('not loaded: the server is shutting down'));
          continue;
        }
        if (model.state !== 'failed') await this.load(model);
      }
    })();
    return this.loading;
  }

  /** Shutting down: finish the model being loaded, load no more. */
  stopLoading(): void {
    this.stopped = true;
  }

  /** Shutting down: refuse new work (503 DRAINING); queued work still runs. */
  stopAccepting(): void {
    for (const m of this.models.values()) m.batcher?.close();
  }

  private fail(model: ServedModel, err: Error & { problems?: Record<string, unknown>[] }): void {
    model.state = 'failed';
    model.error = err.message;
    if (err.problems) model.problems = err.problems.slice(0, 50);
    this.log.error({ model: model.name, err: err.message }, 'model refused');
  }

  private async load(model: ServedModel): Promise<void> {
    const started = performance.now();
    try {
      const config = defined(model.config, `${model.name}'s config`);
      const weightsPath = fileInFolder(model.dir, config.weights, 'weights');
      await stat(weightsPath).catch(() => {
        throw new Error(`weights: file ${config.weights} not found in ${model.dir}`);
      });
      // A zoo name or spec gives the topology; otherwise the model file itself does (ONNX, tfjs model.json, Keras H5).
      const fromFile =
        config.architecture === undefined ? await graphFromModelFile(weightsPath, config.input) : undefined;
      const graph = fromFile
        ? fromFile.graph
        : normalizeSpec(
            architectureSpec(config as ModelConfig & Required<Pick<ModelConfig, 'architecture'>>),
          );
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
      if (model.batching.queueLimit < this.options.maxImagesPerRequest) {
        throw new Error(
          `batching.queueLimit ${model.batching.queueLimit} is below MAX_IMAGES_PER_REQUEST (${this.options.maxImagesPerRequest}): a full request could never be queued`,
        );
      }
      model.labels = config.labels
        ? await readLabels(fileInFolder(model.dir, config.labels, 'labels'), classes)
        : Array.from({ length: classes }, (_, i) => String(i));
      const bytes = (await stat(weightsPath)).size;
      model.weights = { file: config.weights, sha256: await sha256(weightsPath), bytes };
      model.backend = await this.pool.backend;
      model.weightsPath = weightsPath;
      const elements = graph.input[0] * graph.input[1] * graph.input[2];
      const zeros = new Float32Array(elements);
      const candidates: EngineKind[] =
        this.options.engine === 'auto' ? ['onnxruntime', 'tfjs'] : [this.options.engine];
      const timings: Partial<Record<EngineKind, number>> = {};
      const failures: Partial<Record<EngineKind, string>> = {};
      let warmupMs = 0;
      for (const kind of candidates) {
        const key = engineKey(model.name, kind);
        try {
          const loaded = await this.pool.load({ name: key, graph, weightsPath, engine: kind });
          model.weights = { ...model.weights, ...loaded };
          model.state = 'warming';
          const t1 = performance.now();
          await this.pool.inferOnAll(key, zeros, 1);
          // `auto` serves with whichever engine is faster on this model, on this machine.
          if (candidates.length > 1) timings[kind] = await this.pool.time(key, zeros, 1, 5);
          warmupMs += performance.now() - t1;
        } catch (err) {
          // Weights that do not fit fail every engine alike; an engine that cannot run this graph is skipped.
          if (candidates.length === 1 || err instanceof WeightsError) throw err;
          failures[kind] = (err as Error).message;
          await this.pool.unload(key); // a copy that loaded in some workers must not stay resident
        }
      }
      const usable = candidates.filter((k) => timings[k] !== undefined || candidates.length === 1);
      if (usable.length === 0) throw new Error(`no engine could run this model: ${JSON.stringify(failures)}`);
      const chosen = usable.reduce((best, k) => ((timings[k] ?? 0) < (timings[best] ?? 0) ? k : best));
      for (const k of usable) if (k !== chosen) await this.pool.unload(engineKey(model.name, k));
      model.engine = chosen;
      model.batching = { ...model.batching, concurrency: this.pool.batchesInFlight(chosen) };
      model.engineTimings =
        candidates.length > 1
          ? { msPerImage: timings, ...(Object.keys(failures).length ? { failures } : {}) }
          : undefined;
      model.loadMs = performance.now() - started - warmupMs;
      model.warmupMs = warmupMs;
      const key = engineKey(model.name, chosen);
      model.batcher = new Batcher(
        model.name,
        model.batching,
        (input, n) => this.pool.infer(key, input, n, chosen),
        elements,
        classes,
        this.options.observer?.(model.name),
      );
      model.state = 'ready';
      this.log.info(
        {
          model: model.name,
          engine: model.engine,
          engineTimings: model.engineTimings,
          backend: model.backend.name,
          loadMs: Math.round(model.loadMs),
          warmupMs: Math.round(model.warmupMs),
          params: model.params,
          macs: model.macs,
        },
        'model ready',
      );
    } catch (err) {
      this.fail(model, err as Error);
    }
  }

  get(name: string): ServedModel | undefined {
    return this.models.get(name);
  }

  /** DEFAULT_MODEL if set, else `fashion-resnet` if served, else the first model by name. */
  get defaultModel(): string | undefined {
    if (this.options.defaultModel) return this.options.defaultModel;
    if (this.models.has('fashion-resnet')) return 'fashion-resnet';
    return (
      [...this.models.values()].find((m) => m.state !== 'failed')?.name ?? this.models.keys().next().value
    );
  }

  notReady(): { name: string; state: ModelState; error?: string }[] {
    return [...this.models.values()]
      .filter((m) => m.state !== 'ready')
      .map((m) => ({ name: m.name, state: m.state, ...(m.error ? { error: m.error } : {}) }));
  }

  /** The model's ONNX graph with its weights (built in a worker). */
  exportOnnx(model: ReadyModel): Promise<Uint8Array> {
    return this.pool.exportOnnx({
      name: model.name,
      graph: model.graph,
      weightsPath: model.weightsPath,
      engine: 'onnxruntime',
    });
  }

  /** Stops new work and waits for queued and computing batches, up to `deadlineMs`. */
  async drain(deadlineMs: number): Promise<boolean> {
    const batchers = [...this.models.values()].flatMap((m) => (m.batcher ? [m.batcher] : []));
    for (const b of batchers) b.close();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), deadlineMs)));
    const done = Promise.all(batchers.map((b) => b.idle())).then(() => true);
    const drained = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return drained;
  }
}
