/**
 * The served models: every folder of MODELS_DIR with a config.json is a model, and each of its
 * version folders that the version policy selects is loaded, warmed up and served (src/serving/
 * versions.ts has the layout). A model or version that fails is refused with its reason and the
 * others keep serving.
 *
 * What is served changes at run time by rescans (the watcher) or by the repository API, one change at
 * a time. A new or changed version loads in the background while the old one serves; once ready it
 * replaces the old one in one assignment, and the old one finishes the requests that chose it before
 * its copies leave the workers. A version that fails never replaces a working one.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import type { InferencePool } from '../engines/pool.js';
import { ConfigError } from '../config.js';
import { AppError } from '../errors.js';
import { failVersion, loadVersion, type LoadOptions } from './load-version.js';
import { measureAfterReady } from './engine-choice.js';
import { readModelConfig, type ModelConfig } from './model-config.js';
import {
  allEngineKeys,
  released,
  type ModelState,
  type ReadyModel,
  type ServedModel,
} from './served-model.js';
import { SETTLE_MS, selectVersions, versionsOnDisk, type VersionOnDisk } from './versions.js';

export {
  engineKey,
  isReady,
  servingBackend,
  type ModelState,
  type ReadyModel,
  type ServedModel,
} from './served-model.js';
export type { EngineChoice } from './load-version.js';

export interface RegistryOptions extends LoadOptions {
  modelsDir: string;
  defaultModel?: string;
  /** Folder names to serve; empty means every folder. */
  only?: string[];
  /** How long a retired version may wait for the requests that chose it before it stops taking them. */
  drainTimeoutMs: number;
}

/** A model as the repository index lists it (the KServe v2 / Triton repository extension's form). */
export interface IndexEntry {
  name: string;
  version?: string;
  state: 'READY' | 'LOADING' | 'UNAVAILABLE';
  reason: string;
}

interface ModelEntry {
  name: string;
  dir: string;
  config?: ModelConfig;
  /** The served versions (loading, ready, or failed with their reason), by number. */
  versions: Map<number, ServedModel>;
  /** Why the model as a whole serves nothing (config.json unreadable, no version folder, a name taken). */
  refused?: ServedModel;
  /** Versions the policy selects, and versions on disk, at the last scan. */
  wanted: Set<number>;
  onDisk: Set<number>;
}

/** A version to load: a new one (already listed as loading) or a replacement for one that serves. */
interface LoadTask {
  entry: ModelEntry;
  model: ServedModel;
  replaces?: ServedModel;
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
  private readonly entries = new Map<string, ModelEntry>();
  /**
   * Versions seen new or changed, with their print and when it was first seen: loaded once a scan
   * finds the same print SETTLE_MS or more later (scans closer together could both fall between
   * two writes of a copy still under way).
   */
  private readonly unsettled = new Map<string, { print: string; since: number }>();
  /** Versions retired and still finishing their requests (shutdown waits for them). */
  private readonly retiring = new Set<ServedModel>();
  private startupTasks: LoadTask[] = [];
  private loading: Promise<void> | undefined;
  /** Changes to what is served, one at a time. */
  private changes: Promise<unknown> = Promise.resolve();
  private generation = 0;
  private stopped = false;

  constructor(
    private readonly pool: InferencePool,
    private readonly options: RegistryOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Reads every model folder and lists its versions as loading. Never throws for a bad model. */
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
    this.startupTasks = await this.plan(folders, true);
  }

  /** Loads what discover() found, one version at a time; resolves when all are loaded or refused. */
  loadAll(): Promise<void> {
    this.loading ??= this.serialize(() => this.run(this.startupTasks));
    return this.loading;
  }

  /**
   * Reads MODELS_DIR again and applies what changed. A new or changed version is loaded only once
   * a second scan finds its files unchanged (a copy still being written is left alone); resolves
   * with whether some version is waiting for that second scan.
   */
  rescan(): Promise<{ unsettled: boolean }> {
    return this.serialize(async () => {
      if (this.stopped) return { unsettled: false };
      let folders: string[];
      try {
        folders = await modelFolders(this.options.modelsDir);
      } catch (err) {
        // A MODELS_DIR that vanished (a volume being remounted) is not a reason to unload everything.
        this.log.error({ err: (err as Error).message }, 'models folder unreadable; nothing changed');
        return { unsettled: false };
      }
      await this.run(await this.plan(folders, false));
      return { unsettled: this.unsettled.size > 0 };
    });
  }

  private serialize<T>(change: () => Promise<T>): Promise<T> {
    const next = this.changes.then(change);
    this.changes = next.catch(() => undefined);
    return next;
  }

  private served(folders: string[]): string[] {
    const only = this.options.only?.length ? new Set(this.options.only) : undefined;
    return only ? folders.filter((dir) => only.has(path.basename(dir))) : folders;
  }

  /**
   * Compares the folders with what is served: lists new versions as loading, and returns the loads
   * to run. With `now`, versions load as found (start-up, an explicit load); otherwise only once
   * their files have settled. Models whose folder is gone are retired here.
   */
  private async plan(allFolders: string[], now: boolean, keepOthers = false): Promise<LoadTask[]> {
    const tasks: LoadTask[] = [];
    const seen = new Set<string>();
    for (const dir of this.served(allFolders)) {
      let config: ModelConfig | undefined;
      let configError: Error | undefined;
      try {
        config = await readModelConfig(dir);
      } catch (err) {
        configError = err as Error;
      }
      let name = config?.name ?? path.basename(dir);
      const taken = seen.has(name);
      if (taken) name = `${name}@${path.basename(dir)}`;
      seen.add(name);
      let entry = this.entries.get(name);
      if (!entry) {
        entry = { name, dir, versions: new Map(), wanted: new Set(), onDisk: new Set() };
        this.entries.set(name, entry);
      }
      entry.dir = dir;
      if (taken || !config) {
        const why = taken
          ? new Error(`another folder already serves a model named ${config?.name}`)
          : (configError ?? new Error('config.json unreadable'));
        // A model that serves keeps serving through a broken config.json; the reason is reported.
        if (entry.versions.size === 0) this.refuse(entry, why);
        for (const m of entry.versions.values()) {
          if (m.reloadError !== why.message)
            this.log.error(
              { model: m.name, version: m.version, err: why.message },
              'reload refused; still serving',
            );
          m.reloadError = why.message;
        }
        continue;
      }
      entry.config = config;
      const onDisk = await versionsOnDisk(dir);
      const wanted = selectVersions(
        config.versionPolicy,
        onDisk.map((v) => v.version),
      );
      entry.onDisk = new Set(onDisk.map((v) => v.version));
      entry.wanted = new Set(wanted);
      if (wanted.length === 0 && entry.versions.size === 0) {
        this.refuse(
          entry,
          new Error(
            `versionPolicy ${JSON.stringify(config.versionPolicy)} selects none of the version folders on disk (${onDisk.map((v) => v.version).join(', ') || 'none'})`,
          ),
        );
        continue;
      }
      entry.refused = undefined;
      // The versions selected, and any kept serving until a selected one is ready (so a changed
      // config.json reaches them too).
      const served = (v: VersionOnDisk) =>
        entry.wanted.has(v.version) || entry.versions.get(v.version)?.state === 'ready';
      for (const found of onDisk.filter(served)) {
        const task = this.change(entry, config, found, now);
        if (task) tasks.push(task);
      }
    }
    if (!keepOthers) {
      // A version that vanished before it settled is forgotten, so the watcher stops asking again.
      for (const key of this.unsettled.keys())
        if (!seen.has(key.slice(0, key.lastIndexOf('/')))) this.unsettled.delete(key);
      for (const entry of [...this.entries.values()])
        if (!seen.has(entry.name)) {
          this.log.info({ model: entry.name }, 'model folder removed: unloading');
          this.entries.delete(entry.name);
          for (const m of entry.versions.values()) void this.retire(m);
        }
    }
    return tasks;
  }

  /** The load a version on disk needs, if any: it is new, or its files or config.json changed. */
  private change(
    entry: ModelEntry,
    config: ModelConfig,
    found: VersionOnDisk,
    now: boolean,
  ): LoadTask | undefined {
    const current = entry.versions.get(found.version);
    if (current && (current.print === found.print || current.refusedPrint === found.print)) return;
    const key = `${entry.name}/${found.version}`;
    const seen = this.unsettled.get(key);
    if (!now && (seen?.print !== found.print || performance.now() - seen.since < SETTLE_MS)) {
      if (seen?.print !== found.print)
        this.unsettled.set(key, { print: found.print, since: performance.now() });
      return;
    }
    this.unsettled.delete(key);
    const model = this.newVersion(entry, config, found);
    if (current?.state === 'ready') return { entry, model, replaces: current };
    if (current) void this.retire(current); // a failed or half-loaded version gives way to its retry
    entry.versions.set(found.version, model);
    return { entry, model };
  }

  private newVersion(entry: ModelEntry, config: ModelConfig, found: VersionOnDisk): ServedModel {
    return {
      name: entry.name,
      dir: entry.dir,
      version: found.version,
      versionDir: found.dir,
      print: found.print,
      engineName: `${entry.name}/${found.version}#${++this.generation}`,
      config,
      state: 'loading',
      topk: 5,
      engine: this.options.engine === 'auto' ? 'tfjs' : this.options.engine,
      batching: { ...this.options.batching, concurrency: this.pool.size },
    };
  }

  private refuse(entry: ModelEntry, err: Error): void {
    // Every rescan finds the same problem again: it is reported (and logged) once, until it changes.
    if (entry.refused?.error === err.message) return;
    const refused: ServedModel = {
      name: entry.name,
      dir: entry.dir,
      version: 0,
      versionDir: entry.dir,
      print: '',
      engineName: '',
      state: 'loading',
      topk: 5,
      engine: this.options.engine === 'auto' ? 'tfjs' : this.options.engine,
      batching: { ...this.options.batching, concurrency: this.pool.size },
    };
    failVersion(refused, err, this.log);
    entry.refused = refused;
  }

  /**
   * Runs the loads one by one, swapping each in once ready, then retires what they made unwanted and
   * (ENGINE=auto) measures the engines each new version does not serve with yet.
   */
  private async run(tasks: LoadTask[]): Promise<void> {
    for (const task of tasks) {
      const { entry, model, replaces } = task;
      if (this.stopped) {
        failVersion(model, new Error('not loaded: the server is shutting down'), this.log);
        continue;
      }
      await loadVersion(this.pool, this.options, model, this.log);
      if (this.entries.get(entry.name) !== entry) {
        void this.retire(model); // unloaded while it was loading
      } else if (replaces && model.state !== 'ready') {
        // A working version is never replaced by one that fails: it keeps serving, the reason is kept
        // (failVersion has logged it).
        replaces.reloadError = model.error;
        replaces.refusedPrint = model.print;
      } else if (replaces) {
        entry.versions.set(model.version, model);
        void this.retire(replaces);
      }
    }
    for (const entry of new Set(tasks.map((t) => t.entry))) this.retireUnwanted(entry);
    // The other engines (ENGINE=auto) and ONNX Runtime arrangements, once everything loaded here serves.
    for (const { entry, model } of tasks) {
      if (this.stopped) break;
      if (this.entries.get(entry.name)?.versions.get(model.version) === model)
        await measureAfterReady(this.pool, model, this.log, () => this.stopped);
    }
  }

  /**
   * Versions the policy no longer selects leave once a selected one is ready, so a model is never
   * left with nothing to serve by a new version that fails; versions gone from disk leave at once.
   */
  private retireUnwanted(entry: ModelEntry): void {
    const wantedReady = [...entry.versions.values()].some(
      (m) => entry.wanted.has(m.version) && m.state === 'ready',
    );
    for (const m of [...entry.versions.values()]) {
      if (entry.wanted.has(m.version)) continue;
      if (wantedReady || !entry.onDisk.has(m.version)) {
        entry.versions.delete(m.version);
        void this.retire(m);
      }
    }
  }

  /**
   * Takes a version out of service (the caller has already made it unreachable): the requests that
   * chose it finish, then its batcher closes and its copies leave the workers.
   */
  private async retire(m: ServedModel): Promise<void> {
    this.retiring.add(m);
    try {
      if (m.batcher) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((r) => (timer = setTimeout(r, this.options.drainTimeoutMs)));
        // Its plain requests and its explanations (which queue apart, in src/serving/explainer.ts).
        await Promise.race([Promise.all([m.batcher.settled(), released(m)]), deadline]);
        clearTimeout(timer);
        m.batcher.close(`model ${m.name} version ${m.version} was unloaded; retry for the current version`);
        await m.batcher.idle();
      }
      for (const key of allEngineKeys(m)) await this.pool.unload(key);
      this.log.info({ model: m.name, version: m.version }, 'model version unloaded');
    } finally {
      this.retiring.delete(m);
    }
  }

  /** Shutting down: finish the model being loaded, load no more. */
  stopLoading(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Shutting down: refuse new work (503 DRAINING); queued work still runs. */
  stopAccepting(): void {
    for (const m of this.allVersions()) m.batcher?.close();
  }

  private allVersions(): ServedModel[] {
    return [...[...this.entries.values()].flatMap((e) => [...e.versions.values()]), ...this.retiring];
  }

  /** The version a request without one gets: the newest ready one, else the newest (loading or failed). */
  private current(entry: ModelEntry): ServedModel | undefined {
    const versions = [...entry.versions.values()].sort((a, b) => b.version - a.version);
    return versions.find((m) => m.state === 'ready') ?? versions[0] ?? entry.refused;
  }

  /** Each model's current version (see current()), by name. */
  get models(): Map<string, ServedModel> {
    const models = new Map<string, ServedModel>();
    for (const entry of this.entries.values()) {
      const m = this.current(entry);
      if (m) models.set(entry.name, m);
    }
    return models;
  }

  /** A model's version, or its current one when `version` is undefined. */
  get(name: string, version?: number): ServedModel | undefined {
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    return version === undefined ? this.current(entry) : entry.versions.get(version);
  }

  /** Every listed version of a model, newest first. */
  versions(name: string): ServedModel[] {
    const entry = this.entries.get(name);
    return entry ? [...entry.versions.values()].sort((a, b) => b.version - a.version) : [];
  }

  /** DEFAULT_MODEL if set, else `fashion-resnet` if served, else the first model by name. */
  get defaultModel(): string | undefined {
    if (this.options.defaultModel) return this.options.defaultModel;
    const models = this.models;
    if (models.has('fashion-resnet')) return 'fashion-resnet';
    return [...models.values()].find((m) => m.state !== 'failed')?.name ?? models.keys().next().value;
  }

  notReady(): { name: string; state: ModelState; error?: string }[] {
    return [...this.models.values()]
      .filter((m) => m.state !== 'ready')
      .map((m) => ({ name: m.name, state: m.state, ...(m.error ? { error: m.error } : {}) }));
  }

  /** Every model folder of MODELS_DIR with each served version's state; folders not served are "unloaded". */
  async index(readyOnly = false): Promise<IndexEntry[]> {
    const rows: IndexEntry[] = [];
    const listed = new Set<string>();
    for (const entry of this.entries.values()) {
      listed.add(entry.dir);
      const versions = [...entry.versions.values()];
      if (versions.length === 0 && entry.refused)
        rows.push({ name: entry.name, state: 'UNAVAILABLE', reason: entry.refused.error ?? '' });
      for (const m of versions)
        rows.push({
          name: m.name,
          version: String(m.version),
          state: m.state === 'ready' ? 'READY' : m.state === 'failed' ? 'UNAVAILABLE' : 'LOADING',
          reason: m.error ?? '',
        });
    }
    const folders = await modelFolders(this.options.modelsDir).catch(() => []);
    for (const dir of folders.filter((d) => !listed.has(d))) {
      const config = await readModelConfig(dir).catch(() => undefined);
      rows.push({ name: config?.name ?? path.basename(dir), state: 'UNAVAILABLE', reason: 'unloaded' });
    }
    rows.sort((a, b) => a.name.localeCompare(b.name) || Number(a.version ?? 0) - Number(b.version ?? 0));
    return readyOnly ? rows.filter((r) => r.state === 'READY') : rows;
  }

  /**
   * Loads (or reloads what changed of) the model named `name` from its folder, now; resolves once
   * its versions are ready or refused. Throws 404 for a name no folder has, 400 if no version loads.
   */
  loadModel(name: string): Promise<ServedModel[]> {
    return this.serialize(async () => {
      const folders = await modelFolders(this.options.modelsDir);
      let dir = this.entries.get(name)?.dir;
      if (!dir || !folders.includes(dir)) dir = await this.folderOf(name, folders);
      const tasks = await this.plan([dir], true, true);
      await this.run(tasks);
      const versions = this.versions(name);
      const refused = [this.entries.get(name)?.refused, ...tasks.map((task) => task.model)].filter(
        (m): m is ServedModel => m?.state === 'failed',
      );
      if (refused.length > 0 || !versions.some((m) => m.state === 'ready')) {
        const serving = versions.filter((m) => m.state === 'ready').map((m) => m.version);
        const reasons = refused.map((m) => `version ${m.version || '-'}: ${m.error}`);
        throw new AppError(
          400,
          'MODEL_LOAD_FAILED',
          `model ${name}: ${reasons.join('; ') || 'no version loaded'}${serving.length ? ` (still serving version ${serving.join(', ')})` : ''}`,
          { field: 'name', received: name, serving },
        );
      }
      return versions;
    });
  }

  /** Takes every version of `name` out of service and out of the workers; resolves once they are gone. */
  unloadModel(name: string): Promise<void> {
    return this.serialize(async () => {
      const entry = this.entries.get(name);
      if (!entry) throw this.notFound(name);
      this.entries.delete(name);
      await Promise.all([...entry.versions.values()].map((m) => this.retire(m)));
    });
  }

  private async folderOf(name: string, folders: string[]): Promise<string> {
    for (const dir of this.served(folders)) {
      const config = await readModelConfig(dir).catch(() => undefined);
      if ((config?.name ?? path.basename(dir)) === name) return dir;
    }
    throw this.notFound(name);
  }

  private notFound(name: string): AppError {
    return new AppError(
      404,
      'MODEL_NOT_FOUND',
      `name: expected a model of ${this.options.modelsDir}; received ${JSON.stringify(name)}`,
      { field: 'name', received: name },
    );
  }

  /** The model's ONNX graph with its weights (built in a worker). */
  exportOnnx(model: ReadyModel): Promise<Uint8Array> {
    return this.pool.exportOnnx({
      name: model.engineName,
      graph: model.graph,
      weightsPath: model.weightsPath,
      engine: 'onnxruntime',
    });
  }

  /** Shutting down: waits for the change being made (a load, a swap) to finish. */
  async settled(): Promise<void> {
    await this.changes;
  }

  /** Stops new work and waits for queued and computing batches, up to `deadlineMs`. */
  async drain(deadlineMs: number): Promise<boolean> {
    const batchers = this.allVersions().flatMap((m) => (m.batcher ? [m.batcher] : []));
    for (const b of batchers) b.close();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), deadlineMs)));
    const done = Promise.all(batchers.map((b) => b.idle())).then(() => true);
    const drained = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return drained;
  }
}
