// biome-ignore-all lint/suspicious/noThenProperty: `then` here is JSON Schema's if/then keyword, not a thenable
/** Request and response schemas for POST /analyze. */
import { analyzeErrorExamples, analyzeRequestExamples, analyzeResponseExamples } from './examples.js';
import { DEFAULT_PROFILE_RUNS, MAX_PROFILE_RUNS } from '../../src/engines/profile/options.js';

const shape = { type: 'array', items: { type: 'integer', minimum: 1 } };

export const modelTarget = {
  type: 'object',
  additionalProperties: false,
  required: ['model'],
  properties: {
    model: {
      type: 'string',
      minLength: 1,
      maxLength: 200,
      description: 'A built-in architecture (GET /architectures)',
    },
    input: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      minItems: 3,
      maxItems: 3,
      description: '[H, W, C]',
    },
    classes: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    includeTop: { type: 'boolean' },
  },
} as const;

export const specTarget = {
  type: 'object',
  additionalProperties: false,
  required: ['spec'],
  properties: { spec: { $ref: 'ArchitectureSpec#' } },
} as const;

const batch = {
  type: 'integer',
  minimum: 1,
  maximum: 65_536,
  description: 'Batch size for the peak-activation estimate (default 1)',
};

/** Training costs for one step (CONVENTIONS.training); the optimizer defaults to adam, the batch to `batch`. */
const training = {
  type: 'object',
  additionalProperties: false,
  description:
    'Adds a "training" section: bytes of weights, gradients, optimizer state and the activations kept for the backward pass, and MACs per training step',
  properties: {
    batch: {
      type: 'integer',
      minimum: 1,
      maximum: 65_536,
      description: 'Images per step (default: `batch`, else 1)',
    },
    optimizer: { type: 'string', enum: ['sgd', 'momentum', 'adam'], description: 'Default adam' },
  },
} as const;

/** A measured profile of a served model's layers (docs/analysis.md#measured-time-per-layer). */
const profile = {
  type: 'object',
  additionalProperties: false,
  description:
    'Measures the served model named by "model" on an engine: median ms per layer over `runs`, its share of the total, achieved GFLOP/s and MACs. One profile runs at a time (429 while one runs)',
  properties: {
    runs: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_PROFILE_RUNS,
      description: `Measured runs after one warm-up (default ${DEFAULT_PROFILE_RUNS})`,
    },
    batch: { type: 'integer', minimum: 1, maximum: 32, description: 'Images per run (default 1)' },
    engine: {
      type: 'string',
      enum: ['tfjs', 'onnxruntime'],
      description: 'Engine to measure on (default: the one serving the model)',
    },
  },
} as const;

/**
 * A Keras model.to_json() config or a tfjs layers-model model.json, checked by the importer, with
 * an optional `input` [H, W, C] beside it: the size to analyse at (needed when the model leaves it open).
 */
const importedModel = {
  type: 'object',
  description:
    'A Keras model config (model.to_json()) or a TensorFlow.js layers-model model.json, optionally with "input": [H, W, C] beside it',
  properties: {
    input: {
      type: 'array',
      items: { type: 'integer', minimum: 1 },
      minItems: 3,
      maxItems: 3,
      description: '[H, W, C] to analyse at',
    },
  },
} as const;
const looksImported = {
  anyOf: [
    { required: ['class_name'] },
    { required: ['modelTopology'] },
    { required: ['format'] },
    { required: ['model_config'] },
  ],
} as const;

const compareTarget = {
  type: 'object',
  additionalProperties: false,
  required: ['compare'],
  properties: {
    compare: {
      type: 'array',
      description:
        '[A, B]: each a model name (built-in or served), {"model": name, …}, {"spec": …}, or a Keras/tfjs model JSON; the comparison reports B − A and B / A',
      items: {
        if: { type: 'string' },
        then: { type: 'string', minLength: 1, maxLength: 200 },
        else: {
          if: { type: 'object', required: ['spec'] },
          then: specTarget,
          else: { if: { type: 'object', ...looksImported }, then: importedModel, else: modelTarget },
        },
      },
      minItems: 2,
      maxItems: 2,
    },
    batch,
    training,
  },
} as const;

/**
 * One of {model, input?, classes?, includeTop?}, {spec}, {compare: [A, B]}, or a Keras / tfjs model
 * JSON as it is, with an optional batch.
 * Dispatched on the key present (if/then) rather than oneOf, so an error names the real problem.
 */
const analyzeOwnBody = {
  if: { required: ['spec'] },
  // `profile` is accepted here only to be refused with a message that says where specs are profiled.
  then: { ...specTarget, properties: { ...specTarget.properties, batch, training, profile } },
  else: {
    if: { required: ['compare'] },
    then: compareTarget,
    else: { ...modelTarget, properties: { ...modelTarget.properties, batch, training, profile } },
  },
} as const;

/** A Keras config saved as JSON text (`json.dump(model.to_json())`): the body is a JSON string. */
const configAsText = {
  type: 'string',
  minLength: 2,
  description: 'A Keras model config saved as a JSON string (json.dump(model.to_json()))',
} as const;

/** A model file uploaded as the raw body or a multipart file: checked by the importer, not here. */
export const analyzeBody = {
  'x-examples': analyzeRequestExamples,
  if: { type: 'string' },
  then: configAsText,
  else: {
    if: { type: 'object' },
    then: analyzeObject(),
    else: {},
  },
} as const;

function analyzeObject() {
  return {
    type: 'object',
    if: looksImported,
    then: importedModel,
    else: analyzeOwnBody,
  } as const;
}

/** For uploaded files: the size to analyse at and the batch for the memory estimate. */
export const analyzeQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    input: {
      type: 'string',
      pattern: '^\\d+,\\d+,\\d+$',
      description: 'H,W,C to analyse an uploaded model file at (required when the file leaves sizes open)',
    },
    batch: {
      type: 'string',
      pattern: '^[1-9][0-9]{0,4}$',
      description: 'Batch size for the peak-activation estimate of an uploaded model file (default 1)',
    },
    training: {
      type: 'string',
      enum: ['sgd', 'momentum', 'adam'],
      description:
        'Adds the training section for an uploaded model file, with this optimizer (a JSON body has its own `training`)',
    },
    trainingBatch: {
      type: 'string',
      pattern: '^[1-9][0-9]{0,4}$',
      description:
        'Images per training step for an uploaded model file (default: `batch`, else 1; implies adam without `training`)',
    },
    layers: {
      type: 'string',
      enum: ['all', 'none'],
      description:
        'none: totals and block reports without the per-layer rows (default all, paged past ANALYZE_MAX_RESPONSE_LAYERS)',
    },
    offset: { type: 'string', pattern: '^[0-9]{1,7}$', description: 'First layer row to return (default 0)' },
    limit: {
      type: 'string',
      pattern: '^[1-9][0-9]{0,6}$',
      description: 'Layer rows to return, at most ANALYZE_MAX_RESPONSE_LAYERS (its value by default)',
    },
  },
} as const;

const layerRow = {
  type: 'object',
  additionalProperties: true,
  properties: {
    index: { type: 'integer' },
    name: { type: 'string' },
    kind: { type: 'string' },
    blockPath: { type: 'array', items: { type: 'string' } },
    outputShape: shape,
    params: { type: 'integer' },
    macs: { type: 'integer' },
  },
};

export const reportSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['model', 'input', 'conventions', 'layers', 'totals', 'blocks', 'bottlenecks'],
  properties: {
    model: { type: 'string' },
    input: shape,
    output: shape,
    batch: { type: 'integer' },
    conventions: { type: 'object', additionalProperties: { type: 'string' } },
    layers: { type: 'array', items: layerRow },
    totals: {
      type: 'object',
      additionalProperties: true,
      properties: {
        params: { type: 'integer' },
        trainableParams: { type: 'integer' },
        nonTrainableParams: { type: 'integer' },
        macs: { type: 'integer' },
        flops: { type: 'integer' },
      },
    },
    blocks: { type: 'object', additionalProperties: true },
    bottlenecks: { type: 'array', items: { type: 'object', additionalProperties: true } },
    topLayers: { type: 'array', items: { type: 'object', additionalProperties: true } },
    layersPage: {
      type: 'object',
      description:
        'Present when `layers` holds only part of the rows: which part, and where the next page starts',
      required: ['offset', 'limit', 'returned', 'total'],
      properties: {
        offset: { type: 'integer' },
        limit: { type: 'integer' },
        returned: { type: 'integer' },
        total: { type: 'integer' },
        next: { type: 'integer' },
      },
    },
  },
} as const;

const profileRow = {
  type: 'object',
  additionalProperties: false,
  properties: {
    layer: { type: 'string' },
    kind: { type: 'string' },
    layers: { type: 'array', items: { type: 'string' } },
    macs: { type: 'integer' },
    medianMs: { type: 'number' },
    share: { type: 'number' },
    gflops: { type: 'number' },
  },
} as const;

/** The answer to {"model", "profile"}: src/analysis/profile.ts (ProfileReport). */
export const profileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['model', 'engine', 'method', 'runs', 'batch', 'totalMs', 'runMs', 'rows', 'untimed'],
  properties: {
    model: { type: 'string' },
    engine: { type: 'string' },
    method: { type: 'string' },
    runs: { type: 'integer' },
    batch: { type: 'integer' },
    totalMs: { type: 'number' },
    runMs: { type: 'number' },
    rows: { type: 'array', items: profileRow },
    untimed: { type: 'array', items: { type: 'string' } },
    unattributedNodes: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const errorSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

export const analyzeResponse = {
  200: {
    description:
      'A report, for {compare} the two reports and their deltas, or for {"model", "profile"} the measured time per layer',
    'x-examples': analyzeResponseExamples,
    anyOf: [
      reportSchema,
      profileSchema,
      {
        type: 'object',
        additionalProperties: true,
        required: ['comparison', 'reports'],
        properties: {
          comparison: { type: 'object', additionalProperties: true },
          reports: { type: 'array', items: reportSchema },
        },
      },
    ],
  },
  400: { ...errorSchema, 'x-examples': analyzeErrorExamples[400] },
  404: { ...errorSchema, 'x-examples': analyzeErrorExamples[404] },
  413: errorSchema,
  415: errorSchema,
  429: errorSchema,
  503: errorSchema,
  504: errorSchema,
} as const;
