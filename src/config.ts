/**
 * Every setting comes from the environment, is validated here at start-up, and a bad value stops
 * the start with a message that names the variable. Documented in docs/configuration.md, whose table a test checks against this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { BackendName } from './engines/tfjs/backend.js';
import { PRECISIONS, type EngineKind, type Precision } from './engines/types.js';

export interface Config {
  host: string;
  port: number;
  /** A second port, served by a thread of its own, that answers only the health probes; undefined: off. */
  healthPort?: number;
  /** Readiness needs every configured model ready ('all') or at least one ('any'). */
  readiness: 'all' | 'any';
  /** Past this long without the event loop turning, the health port answers 503 (stalled). */
  livenessStallMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `json`: one JSON object per line, for a collector; `pretty`: pino-pretty's readable lines, for a terminal. */
  logFormat: 'json' | 'pretty';
  modelsDir: string;
  /** Largest request body for JSON routes such as /analyze, in bytes. */
  analyzeBodyLimit: number;
  /** Model files (ONNX, Keras/tfjs JSON) uploaded to /analyze as a raw body or a multipart file. */
  modelUploadLimit: number;
  /** Largest network /analyze accepts, in leaf layers after expansion. */
  analyzeMaxLayers: number;
  /** Largest total MACs /analyze accepts (counts above 2^53 would lose exactness). */
  analyzeMaxMacs: number;
  /** Analysis worker threads (0: analyses run on the event loop). */
  analyzeWorkers: number;
  /** Analyses that may wait for a worker before /analyze answers 503. */
  analyzeQueue: number;
  /** Running time per analysis, in ms; past it the analysis is stopped and answered 413. */
  analyzeTimeoutMs: number;
  /** Heap per analysis worker, in MB; an analysis needing more is answered 413. */
  analyzeMemoryMb: number;
  /** Layer rows in one /analyze response; longer reports are paged (`offset`, `limit`). */
  analyzeMaxResponseLayers: number;
  /** Wall time one /analyze profile may take, in ms; past it its thread is stopped and answered 504. */
  profileTimeoutMs: number;
  /** Whether to load and serve the models of modelsDir (off: an analysis-only service). */
  serveModels: boolean;
  defaultModel?: string;
  /** Serve only these model folders of MODELS_DIR (default: all). */
  onlyModels: string[];
  /** What changes the served models at run time: the MODELS_DIR watcher, the repository API, or nothing. */
  modelControl: 'poll' | 'explicit' | 'none';
  /** Seconds between rescans of MODELS_DIR under MODEL_CONTROL=poll; 0 turns rescanning off. */
  modelPollS: number;
  /** Force a TensorFlow.js backend instead of picking the fastest present. */
  tfjsBackend?: BackendName;
  engine: EngineKind | 'auto';
  /**
   * Numeric precision models are served at unless their config.json says otherwise (ONNX Runtime
   * only; see docs/precision.md): int8 is calibrated and checked against fp32 at load, bf16 is refused
   * where ONNX Runtime's CPU provider has no bf16 convolution.
   */
  precision: Precision;
  /** ONNX Runtime intra-op threads per session (default: WORKERS; see InferencePool.batchesInFlight). */
  onnxThreads: number;
  /**
   * Whether ONNX_THREADS was set: a fixed arrangement. Unset, each model served by ONNX Runtime is
   * also measured as one single-thread session per worker once it serves (src/serving/engine-choice.ts).
   */
  onnxThreadsFixed: boolean;
  /** Nice value of inference and analysis threads, so the event loop runs first (src/thread-priority.ts). */
  backgroundNice: number;
  /** tfjs wasm threads per worker (above 1: tfjs' threaded build, see src/engine/wasm-threads.ts). */
  wasmThreads: number;
  /** Inference worker threads. */
  workers: number;
  maxBatch: number;
  maxDelayMs: number;
  /**
   * Whether MAX_DELAY_MS or MAX_BATCH was set: otherwise a model whose batches do not pay stops
   * waiting for them, and, if its image takes 20 ms or more, computes one image per batch
   * (src/serving/engine-choice.ts).
   */
  batchingFixed: boolean;
  /** Most images waiting per model before requests are refused with 503. */
  queueLimit: number;
  /** Most images waiting per model for a Grad-CAM explanation (a queue of its own) before 503. */
  explainQueueLimit: number;
  requestTimeoutMs: number;
  drainTimeoutMs: number;
  /** Largest /classify and /v2 infer body. */
  bodyLimit: number;
  maxImagesPerRequest: number;
  maxImagePixels: number;
  /** Decode cost per image, in megapixels of JPEG (src/serving/decode-cost.ts). */
  maxDecodeCost: number;
  /** Decode cost per request, the sum over its images. */
  maxRequestDecodeCost: number;
  /** Images decoded at once, shared fairly between requests. */
  decodeConcurrency: number;
  /** Decoder memory in flight, in MB (each decode's estimate from its header). */
  decodeMemoryMb: number;
  /** A decode running longer is stopped (a backstop behind the cost bound), in seconds. */
  decodeTimeoutS: number;
  /** The whole request (headers and body) must arrive within this, in ms; then 408 and the socket closes. */
  clientTimeoutMs: number;
  /** Accepted API keys; empty means no authentication. */
  apiKeys: string[];
  /** Origins allowed by CORS; empty means CORS is off. */
  corsOrigins: string[];
  /** Wait this long after SIGTERM (readiness already 503) before refusing connections. */
  shutdownDelayMs: number;
}

/** The package root: where package.json is, above this file in src/ (tests, dev) or dist/src/ (build). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}
const REPO_ROOT = packageRoot();

/** The package's own name, version and licence, read once from package.json (the only place they are written). */
export const PACKAGE: { name: string; version: string; description: string; license: string } = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'),
);
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export class ConfigError extends Error {
  constructor(variable: string, value: string, expected: string) {
    super(`${variable}=${JSON.stringify(value)} is invalid: expected ${expected}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(name, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

function list(env: Env, name: string): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return [];
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new ConfigError(name, raw, 'a comma-separated list without empty items');
  return items;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, raw, 'true or false');
}

function optionalOneOf<T extends string>(env: Env, name: string, allowed: readonly T[]): T | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : oneOf(env, name, allowed[0], allowed);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw))
    throw new ConfigError(name, raw, `one of ${allowed.join(', ')}`);
  return raw as T;
}

/** The repository's own models/ folder, which holds the default models. */
export const DEFAULT_MODELS_DIR = path.join(REPO_ROOT, 'models');

/** `stdoutIsTTY` picks the default LOG_FORMAT: pretty for a person at a terminal, JSON for a collector. */
export function loadConfig(env: Env = process.env, stdoutIsTTY = process.stdout.isTTY === true): Config {
  const config = readAll(env, stdoutIsTTY);
  if (config.queueLimit < config.maxImagesPerRequest) {
    throw new ConfigError(
      'QUEUE_LIMIT',
      String(config.queueLimit),
      `at least MAX_IMAGES_PER_REQUEST (${config.maxImagesPerRequest}), or a full request could never be queued`,
    );
  }
  if (config.explainQueueLimit < config.maxImagesPerRequest) {
    throw new ConfigError(
      'EXPLAIN_QUEUE_LIMIT',
      String(config.explainQueueLimit),
      `at least MAX_IMAGES_PER_REQUEST (${config.maxImagesPerRequest}), or a full request could never be explained`,
    );
  }
  if (config.healthPort !== undefined && config.healthPort !== 0 && config.healthPort === config.port) {
    throw new ConfigError(
      'HEALTH_PORT',
      String(config.healthPort),
      `a port other than PORT (${config.port}): the health probes listen on a port of their own`,
    );
  }
  return config;
}

const uvPoolSize = (env: Env) => {
  const n = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n >= 1 ? n : 4;
};
// Decodes run on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise); one is
// left for compression, file reads and DNS.
const decodeDefault = (env: Env) => Math.max(1, Math.min(workers(env), uvPoolSize(env) - 1));
const workers = (env: Env) => int(env, 'WORKERS', Math.min(availableParallelism(), 8), 1, 64);

function readAll(env: Env, stdoutIsTTY: boolean): Config {
  return {
    host: env.HOST && env.HOST !== '' ? env.HOST : '0.0.0.0',
    port: int(env, 'PORT', 3000, 0, 65535),
    healthPort:
      env.HEALTH_PORT === undefined || env.HEALTH_PORT === ''
        ? undefined
        : int(env, 'HEALTH_PORT', 0, 0, 65535),
    livenessStallMs: int(env, 'LIVENESS_STALL_MS', 10_000, 100, 3_600_000),
    readiness: oneOf(env, 'READINESS', 'all', ['all', 'any'] as const),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    logFormat: oneOf(env, 'LOG_FORMAT', stdoutIsTTY ? 'pretty' : 'json', ['json', 'pretty'] as const),
    modelsDir: env.MODELS_DIR && env.MODELS_DIR !== '' ? path.resolve(env.MODELS_DIR) : DEFAULT_MODELS_DIR,
    analyzeBodyLimit: int(env, 'ANALYZE_BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    modelUploadLimit: int(env, 'MODEL_UPLOAD_LIMIT', 256 * 1024 * 1024, 1024, 2 * 1024 * 1024 * 1024),
    analyzeMaxLayers: int(env, 'ANALYZE_MAX_LAYERS', 20_000, 1, 1_000_000),
    analyzeMaxMacs: int(env, 'ANALYZE_MAX_MACS', 1e15, 1, Number.MAX_SAFE_INTEGER),
    // One thread: analyses are rare and short next to inference, which keeps the other cores.
    analyzeWorkers: int(env, 'ANALYZE_WORKERS', 1, 0, 16),
    analyzeQueue: int(env, 'ANALYZE_QUEUE', 16, 0, 10_000),
    analyzeTimeoutMs: int(env, 'ANALYZE_TIMEOUT_MS', 5_000, 10, 600_000),
    analyzeMemoryMb: int(env, 'ANALYZE_MEMORY_MB', 512, 64, 16_384),
    analyzeMaxResponseLayers: int(env, 'ANALYZE_MAX_RESPONSE_LAYERS', 2_000, 1, 1_000_000),
    profileTimeoutMs: int(env, 'PROFILE_TIMEOUT_MS', 120_000, 100, 3_600_000),
    serveModels: bool(env, 'SERVE_MODELS', true),
    defaultModel: env.DEFAULT_MODEL || undefined,
    onlyModels: list(env, 'MODELS'),
    modelControl: oneOf(env, 'MODEL_CONTROL', 'poll', ['poll', 'explicit', 'none'] as const),
    modelPollS: int(env, 'MODEL_POLL_S', 10, 0, 86_400),
    tfjsBackend: optionalOneOf(env, 'TFJS_BACKEND', ['tensorflow', 'wasm', 'cpu'] as const),
    engine: oneOf(env, 'ENGINE', 'auto', ['auto', 'tfjs', 'onnxruntime'] as const),
    precision: oneOf(env, 'PRECISION', 'fp32', PRECISIONS),
    // WORKERS is also the number of cores the service plans for (in a container, set it to the CPU
    // limit: Node counts the host's cores). One ONNX Runtime session uses all of them by default.
    onnxThreads: int(env, 'ONNX_THREADS', workers(env), 1, 64),
    onnxThreadsFixed: env.ONNX_THREADS !== undefined && env.ONNX_THREADS !== '',
    backgroundNice: int(env, 'BACKGROUND_NICE', 10, 0, 19),
    workers: workers(env),
    wasmThreads: int(env, 'TFJS_WASM_THREADS', 1, 1, 8),
    maxBatch: int(env, 'MAX_BATCH', 8, 1, 256),
    maxDelayMs: int(env, 'MAX_DELAY_MS', 5, 0, 10_000),
    batchingFixed: [env.MAX_DELAY_MS, env.MAX_BATCH].some((v) => v !== undefined && v !== ''),
    queueLimit: int(env, 'QUEUE_LIMIT', 256, 1, 100_000),
    explainQueueLimit: int(env, 'EXPLAIN_QUEUE_LIMIT', 64, 1, 100_000),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, 1, 3_600_000),
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 30_000, 0, 3_600_000),
    bodyLimit: int(env, 'BODY_LIMIT', 32 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxImagesPerRequest: int(env, 'MAX_IMAGES_PER_REQUEST', 32, 1, 1024),
    maxImagePixels: int(env, 'MAX_IMAGE_PIXELS', 100_000_000, 1, 2 ** 32),
    maxDecodeCost: int(env, 'MAX_DECODE_COST', 100, 1, 100_000),
    maxRequestDecodeCost: int(env, 'MAX_REQUEST_DECODE_COST', 400, 1, 1_000_000),
    decodeConcurrency: int(env, 'DECODE_CONCURRENCY', decodeDefault(env), 1, 64),
    decodeMemoryMb: int(env, 'DECODE_MEMORY_MB', 256, 16, 65_536),
    decodeTimeoutS: int(env, 'DECODE_TIMEOUT_S', 10, 1, 3600),
    clientTimeoutMs: int(env, 'CLIENT_TIMEOUT_MS', 60_000, 1000, 3_600_000),
    apiKeys: list(env, 'API_KEYS'),
    corsOrigins: list(env, 'CORS_ORIGINS'),
    // After SIGTERM, answers carry Connection: close for this long before the listener closes, so
    // clients leave their keep-alive connections instead of having a request reset mid-flight.
    shutdownDelayMs: int(env, 'SHUTDOWN_DELAY_MS', 1000, 0, 600_000),
  };
}

/** Config for tests and embedders: defaults, overridden field by field. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}, false), logLevel: 'silent', serveModels: false, ...overrides };
}
