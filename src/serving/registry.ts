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
import { analyzeGraph } from '../analysis/analyze.js';
import type { BackendChoice } from '../engine/backend.js';
import type { InferencePool } from '../engine/pool.js';
import type { EngineKind } from '../engine/types.js';
import { normalizeSpec } from '../spec/normalize.js';
import type { Graph, Shape3 } from '../spec/types.js';
import { Batcher, type BatchObserver, type BatchSettings } from './batcher.js';
import { architectureSpec, fileInFolder, readLabels, readModelConfig, resolvePreprocess, type ModelConfig, type Preprocess } from './model-config.js';

export type ModelState = 'loading' | 'warming' | 'ready' | 'failed';

export interface ServedModel {
  name: string;
  dir: string;
  state: ModelState;
  error?: string;
  problems?: Record<string, unknown>[];
  config?: ModelConfig;
  graph?: Graph;
  architecture?: string;
  input?: Shape3;
  classes?: number;
  labels?: string[];
  preprocess?: Preprocess;
  topk: number;
  params?: number;
  macs?: number;
  weights?: { file: string; sha256: string; bytes: number; format?: string; keyStyle?: string };
  engine: EngineKind;
  backend?: BackendChoice;
  loadMs?: number;
  warmupMs?: number;
  batching: BatchSettings;
  batcher?: Batcher;
}

export interface RegistryOptions {
  modelsDir: string;
  engine: EngineKind;
  defaultModel?: string;
  /** Folder names to serve; empty means every folder. */
  only?: string[];
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
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const folders: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const s = await stat(path.join(dir, e.name, 'config.json')).catch(() => null);
    if (s?.isFile()) folders.push(path.join(dir, e.name));
  }
  return folders.sort();
}

export class ModelRegistry {
  readonly models = new Map<string, ServedModel>();
  private loading: Promise<void> | undefined;

  constructor(private readonly pool: InferencePool, private readonly options: RegistryOptions, private readonly log: FastifyBaseLogger) {}

  /** Reads every model folder, then loads the models one by one. Never throws for a bad model. */
  async discover(): Promise<void> {
    const only = this.options.only?.length ? new Set(this.options.only) : undefined;
    for (const dir of await modelFolders(this.options.modelsDir)) {
      if (only && !only.has(path.basename(dir))) continue;
      const model: ServedModel = {
        name: path.basename(dir), dir, state: 'loading', topk: 5, engine: this.options.engine,
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
      for (const model of this.models.values()) if (model.state !== 'failed') await this.load(model);
    })();
    return this.loading;
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
      const config = model.config!;
      const spec = architectureSpec(config);
      const graph = normalizeSpec(spec);
      const report = analyzeGraph(graph);
      const classes = report.output[report.output.length - 1];
      if (report.output.length !== 1) throw new Error(`architecture output ${JSON.stringify(report.output)} is not a class vector; a classifier needs includeTop`);
      model.graph = graph;
      model.architecture = typeof config.architecture === 'string' ? config.architecture : 'name' in config.architecture ? config.architecture.name : graph.name;
      model.input = graph.input;
      model.classes = classes;
      model.params = report.totals.params;
      model.macs = report.totals.macs;
      model.preprocess = resolvePreprocess(config, graph.input);
      model.topk = config.topk ?? Math.min(5, classes);
      model.batching = { ...model.batching, ...config.batching };
      model.labels = config.labels
        ? await readLabels(fileInFolder(model.dir, config.labels, 'labels'), classes)
        : Array.from({ length: classes }, (_, i) => String(i));
      const weightsPath = fileInFolder(model.dir, config.weights, 'weights');
      const bytes = (await stat(weightsPath).catch(() => {
        throw new Error(`weights: file ${config.weights} not found in ${model.dir}`);
      })).size;
      model.weights = { file: config.weights, sha256: await sha256(weightsPath), bytes };
      const loaded = await this.pool.load({ name: model.name, graph, weightsPath, engine: model.engine });
      model.weights = { ...model.weights, ...loaded };
      model.backend = await this.pool.backend;
      model.loadMs = performance.now() - started;

      model.state = 'warming';
      const warmStart = performance.now();
      const elements = graph.input[0] * graph.input[1] * graph.input[2];
      await this.pool.inferOnAll(model.name, new Float32Array(elements), 1);
      model.warmupMs = performance.now() - warmStart;
      model.batcher = new Batcher(model.name, model.batching, (input, n) => this.pool.infer(model.name, input, n), elements, classes, this.options.observer?.(model.name));
      model.state = 'ready';
      this.log.info({ model: model.name, engine: model.engine, backend: model.backend.name, loadMs: Math.round(model.loadMs), warmupMs: Math.round(model.warmupMs), params: model.params, macs: model.macs }, 'model ready');
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
    return this.models.keys().next().value;
  }

  notReady(): { name: string; state: ModelState; error?: string }[] {
    return [...this.models.values()].filter((m) => m.state !== 'ready').map((m) => ({ name: m.name, state: m.state, ...(m.error ? { error: m.error } : {}) }));
  }

  /** Stops new work and waits for queued and computing batches, up to `deadlineMs`. */
  async drain(deadlineMs: number): Promise<boolean> {
    const batchers = [...this.models.values()].flatMap((m) => (m.batcher ? [m.batcher] : []));
    batchers.forEach((b) => b.close());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), deadlineMs)));
    const done = Promise.all(batchers.map((b) => b.idle())).then(() => true);
    const drained = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return drained;
  }
}
