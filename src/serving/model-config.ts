/**
 * A served model's folder: `config.json` plus its weights and labels. This module reads and checks
 * config.json and resolves its presets; it loads nothing heavy.
 *
 *   {"name": "resnet18", "architecture": "resnet18", "weights": "weights.safetensors",
 *    "labels": "labels.txt", "preprocess": "torch"}
 *
 * Without `architecture`, the topology comes from the weights file itself: an ONNX file, a tfjs
 * converter folder's model.json, or a Keras full-model H5 (`input` gives the size for files saved
 * with open sizes).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { ZOO } from '../../models/index.js';
import { describeValue } from '../errors.js';
import { ARCHITECTURE_SPEC_SCHEMA } from '../spec/schema.js';
import type { ArchitectureSpec, Shape3 } from '../spec/types.js';
import { defined } from '../invariant.js';
import { PRECISIONS, type Precision } from '../engines/types.js';

export type ResizeMode = 'stretch' | 'crop';
export type Interpolation = 'bilinear' | 'bicubic' | 'lanczos3' | 'nearest';

/** How an image becomes the model's input: value = (pixel·scale − mean[c]) / std[c]. */
export interface Preprocess {
  /** [height, width] fed to the model (from the architecture). */
  size: [number, number];
  /** stretch: resize to size; crop: resize the shorter side to size/cropFraction, then centre-crop. */
  resize: ResizeMode;
  cropFraction: number;
  /**
   * Resampling filter. bilinear (every preset) is what torchvision's Resize and Keras' image loading
   * use, so served inputs look like the ones the model was trained on; when shrinking, it averages
   * over the covered pixels as PIL's antialiased bilinear does.
   */
  interpolation: Interpolation;
  channels: 1 | 3;
  channelOrder: 'RGB' | 'BGR';
  scale: number;
  mean: number[];
  std: number[];
}

export type PresetName = 'torch' | 'caffe' | 'tf' | 'unit';

/**
 * torch: torchvision's ImageNet transform (resize 256, crop 224, ImageNet mean/std).
 * caffe: Keras ResNet v1 / VGG (BGR, 0..255, ImageNet mean subtracted per channel, no scaling).
 * tf: Keras Inception and ResNet v2 (RGB scaled to [−1, 1]).
 * unit: pixels scaled to [0, 1], nothing else.
 */
const PRESETS: Record<PresetName, Omit<Preprocess, 'size' | 'channels'>> = {
  torch: {
    resize: 'crop',
    cropFraction: 0.875,
    interpolation: 'bilinear',
    channelOrder: 'RGB',
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
  },
  caffe: {
    resize: 'stretch',
    cropFraction: 1,
    interpolation: 'bilinear',
    channelOrder: 'BGR',
    scale: 1,
    mean: [103.939, 116.779, 123.68],
    std: [1, 1, 1],
  },
  tf: {
    resize: 'stretch',
    cropFraction: 1,
    interpolation: 'bilinear',
    channelOrder: 'RGB',
    scale: 1 / 255,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
  },
  unit: {
    resize: 'stretch',
    cropFraction: 1,
    interpolation: 'bilinear',
    channelOrder: 'RGB',
    scale: 1 / 255,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  },
};

export interface BatchingConfig {
  maxBatch?: number;
  maxDelayMs?: number;
  queueLimit?: number;
}

/**
 * Which of a model's version folders are served, as Triton's version_policy: the `latest` n
 * (by number), `all` of them, or a `specific` list.
 */
export type VersionPolicy = { latest: number } | { all: true } | { specific: number[] };

export interface ModelConfig {
  name: string;
  /** A zoo name (with options) or a spec; absent: the weights file holds the topology. */
  architecture?:
    | string
    | { name: string; options?: { input?: Shape3; classes?: number; includeTop?: boolean } }
    | { spec: ArchitectureSpec };
  weights: string;
  /** [H, W, C] for a model file saved with open input sizes. */
  input?: Shape3;
  labels?: string;
  preprocess?: PresetName | (Partial<Omit<Preprocess, 'size'>> & { preset?: PresetName });
  topk?: number;
  batching?: BatchingConfig;
  versionPolicy?: VersionPolicy;
  /** The precision served at; overrides PRECISION (docs/precision.md). */
  precision?: Precision;
  /**
   * Images (a folder of the model's) that calibrate int8 and on which every reduced precision's
   * top-1 is compared with fp32; `labels` (a file of `image,class` lines) adds accuracy. The limits
   * can only be made stricter than the service's (99% agreement, 0.5 points of accuracy).
   */
  calibration?: { images: string; labels?: string; minAgreement?: number; maxAccuracyDrop?: number };
}

const number = { type: 'number' };
const preprocessObject = {
  type: 'object',
  additionalProperties: false,
  properties: {
    preset: { enum: Object.keys(PRESETS) },
    resize: { enum: ['stretch', 'crop'] },
    cropFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    interpolation: { enum: ['bilinear', 'bicubic', 'lanczos3', 'nearest'] },
    channels: { enum: [1, 3] },
    channelOrder: { enum: ['RGB', 'BGR'] },
    scale: number,
    mean: { type: 'array', items: number, minItems: 1, maxItems: 3 },
    std: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1, maxItems: 3 },
  },
};

export const MODEL_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['weights'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' },
    architecture: {
      anyOf: [
        { type: 'string' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            name: { type: 'string' },
            options: {
              type: 'object',
              additionalProperties: false,
              properties: {
                input: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 3, maxItems: 3 },
                classes: { type: 'integer', minimum: 1 },
                includeTop: { type: 'boolean' },
              },
            },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['spec'],
          // Checked against ArchitectureSpec apart (validateSpec): most configs name a zoo model, and
          // compiling the spec's schema costs ~0.15 s of the main thread at start-up.
          properties: { spec: { type: 'object' } },
        },
      ],
    },
    weights: { type: 'string', minLength: 1 },
    input: { type: 'array', items: { type: 'integer', minimum: 1, maximum: 8192 }, minItems: 3, maxItems: 3 },
    labels: { type: 'string', minLength: 1 },
    preprocess: { anyOf: [{ enum: Object.keys(PRESETS) }, preprocessObject] },
    topk: { type: 'integer', minimum: 1, maximum: 1000 },
    batching: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxBatch: { type: 'integer', minimum: 1, maximum: 256 },
        maxDelayMs: { type: 'number', minimum: 0, maximum: 10_000 },
        queueLimit: { type: 'integer', minimum: 1, maximum: 100_000 },
      },
    },
    precision: { enum: [...PRECISIONS] },
    calibration: {
      type: 'object',
      additionalProperties: false,
      required: ['images'],
      properties: {
        images: { type: 'string', minLength: 1 },
        labels: { type: 'string', minLength: 1 },
        minAgreement: { type: 'number', minimum: 0.99, maximum: 1 },
        maxAccuracyDrop: { type: 'number', minimum: 0, maximum: 0.5 },
      },
    },
    versionPolicy: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['latest'],
          properties: { latest: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['all'],
          properties: { all: { const: true } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['specific'],
          properties: {
            specific: {
              type: 'array',
              items: { type: 'integer', minimum: 1 },
              minItems: 1,
              maxItems: 1000,
              uniqueItems: true,
            },
          },
        },
      ],
    },
  },
};

// discriminator: the architecture spec's nodes dispatch on their kind (src/spec/schema.ts).
const ajv = new Ajv({ allErrors: false, strict: false, discriminator: true });
const validate = ajv.compile<ModelConfig>(MODEL_CONFIG_SCHEMA);
let specValidator: ValidateFunction | undefined;
/** An inline spec's check, compiled the first time a config.json holds one. */
function validateSpec(spec: unknown): ValidateFunction['errors'] {
  specValidator ??= ajv.compile(ARCHITECTURE_SPEC_SCHEMA);
  return specValidator(spec) ? null : specValidator.errors;
}

export class ModelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
}

/** Resolves a file named in config.json, refusing anything that leaves the model's folder. */
export function fileInFolder(dir: string, file: string, field: string): string {
  const resolved = path.resolve(dir, file);
  if (!resolved.startsWith(path.resolve(dir) + path.sep)) {
    throw new ModelConfigError(`${field}: expected a file inside ${dir}; received ${JSON.stringify(file)}`);
  }
  return resolved;
}

/** The value at a JSON pointer such as `/batching/maxBatch` (what Ajv's error is about). */
function valueAt(raw: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>(
      (v, key) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined),
      raw,
    );
}

export async function readModelConfig(dir: string): Promise<ModelConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
  } catch (err) {
    throw new ModelConfigError(`config.json: ${(err as Error).message}`);
  }
  const inlineSpec = (raw as { architecture?: { spec?: unknown } } | null)?.architecture?.spec;
  const errors = !validate(raw)
    ? validate.errors
    : inlineSpec === undefined
      ? null
      : validateSpec(inlineSpec)?.map((e) => ({ ...e, instancePath: `/architecture/spec${e.instancePath}` }));
  if (errors) {
    const e = defined(errors[0], 'the schema error');
    // oneOf's first error names one branch only; the policy's three forms are clearer said at once.
    if (e.instancePath.startsWith('/versionPolicy'))
      throw new ModelConfigError(
        `config.json.versionPolicy: expected {"latest": n}, {"all": true} or {"specific": [n, ...]} with n a positive integer; received ${describeValue((raw as { versionPolicy?: unknown }).versionPolicy)}`,
      );
    throw new ModelConfigError(
      `config.json${e.instancePath.replace(/\//g, '.')}: ${e.message}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}; received ${describeValue(valueAt(raw, e.instancePath))}`,
    );
  }
  const config = raw as ModelConfig;
  return { ...config, name: config.name ?? path.basename(dir) };
}

export function architectureSpec(
  config: ModelConfig & Required<Pick<ModelConfig, 'architecture'>>,
): ArchitectureSpec {
  const arch = config.architecture;
  if (typeof arch === 'object' && 'spec' in arch) return arch.spec;
  const name = typeof arch === 'string' ? arch : arch.name;
  const entry = ZOO.get(name);
  if (!entry)
    throw new ModelConfigError(
      `architecture: expected one of ${[...ZOO.keys()].join(', ')}; received ${JSON.stringify(name)}`,
    );
  return entry.build(typeof arch === 'string' ? {} : (arch.options ?? {}));
}

/** The preprocessing a model gets: preset, then explicit fields, sized from the architecture's input. */
export function resolvePreprocess(config: ModelConfig, input: Shape3): Preprocess {
  const p = config.preprocess ?? 'unit';
  const preset = PRESETS[typeof p === 'string' ? p : (p.preset ?? 'unit')];
  const fields = typeof p === 'string' ? {} : p;
  const channels = (fields.channels ?? input[2]) as 1 | 3;
  if (channels !== input[2])
    throw new ModelConfigError(
      `preprocess.channels: expected ${input[2]} (the architecture's input channels); received ${channels}`,
    );
  const fit = (values: number[], field: string) => {
    if (values.length === channels) return values;
    if (values.length === 1) return new Array(channels).fill(values[0]);
    if (channels === 1) return [values.reduce((a, b) => a + b, 0) / values.length];
    throw new ModelConfigError(
      `preprocess.${field}: expected 1 or ${channels} values; received ${values.length}`,
    );
  };
  const resolved: Preprocess = { ...preset, ...fields, size: [input[0], input[1]], channels } as Preprocess;
  delete (resolved as { preset?: unknown }).preset;
  resolved.mean = fit(resolved.mean, 'mean');
  resolved.std = fit(resolved.std, 'std');
  return resolved;
}

export async function readLabels(file: string, classes: number): Promise<string[]> {
  const labels = (await readFile(file, 'utf8')).split(/\r?\n/).map((l) => l.trim());
  while (labels.length && labels[labels.length - 1] === '') labels.pop();
  if (labels.length !== classes) {
    throw new ModelConfigError(
      `labels: expected ${classes} lines (one per class); received ${labels.length} in ${path.basename(file)}`,
    );
  }
  return labels;
}
