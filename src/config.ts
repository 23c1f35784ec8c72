/**
 * Every setting comes from the environment, is validated here at start-up, and a bad value stops
 * the start with a message that names the variable. Documented in the README's configuration table.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface Config {
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  modelsDir: string;
  /** Largest request body for JSON routes such as /analyze, in bytes. */
  analyzeBodyLimit: number;
  /** Largest network /analyze accepts, in leaf layers after expansion. */
  analyzeMaxLayers: number;
  /** Largest total MACs /analyze accepts (counts above 2^53 would lose exactness). */
  analyzeMaxMacs: number;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
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

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, raw, `one of ${allowed.join(', ')}`);
  return raw as T;
}

/** The repository's own models/ folder, which holds the default models. */
export const DEFAULT_MODELS_DIR = path.join(REPO_ROOT, 'models');

export function loadConfig(env: Env = process.env): Config {
  return {
    host: env.HOST && env.HOST !== '' ? env.HOST : '0.0.0.0',
    port: int(env, 'PORT', 3000, 0, 65535),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    modelsDir: env.MODELS_DIR && env.MODELS_DIR !== '' ? path.resolve(env.MODELS_DIR) : DEFAULT_MODELS_DIR,
    analyzeBodyLimit: int(env, 'ANALYZE_BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    analyzeMaxLayers: int(env, 'ANALYZE_MAX_LAYERS', 20_000, 1, 1_000_000),
    analyzeMaxMacs: int(env, 'ANALYZE_MAX_MACS', 1e15, 1, Number.MAX_SAFE_INTEGER),
  };
}

/** Config for tests and embedders: defaults, overridden field by field. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), logLevel: 'silent', ...overrides };
}
