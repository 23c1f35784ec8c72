/** GET /models and GET /models/{name}: what each served model is, where it came from and how it runs. */
import type { FastifyInstance } from 'fastify';
import { AppError, closestNames, describeValue } from '../../src/errors.js';
import { isReady, servingBackend, type ServedModel } from '../../src/serving/registry.js';
import { modelErrorExamples, modelResponseExamples, modelsResponseExamples } from './examples.js';
import { defaultGradcamLayer, spatialLayers } from '../../src/engines/gradcam-layers.js';

/**
 * What explain=gradcam can ask of the model. The maps are computed by a tfjs copy of the graph that
 * each worker builds on its first explain request, whichever engine serves the predictions.
 */
function describeExplain(m: ServedModel) {
  if (!m.graph) return null;
  const layers = spatialLayers(m.graph);
  return {
    method: 'gradcam',
    computedBy: 'tfjs, in a copy each worker loads on its first explain request',
    defaultLayer: defaultGradcamLayer(layers)?.name ?? null,
    layers: layers.map((l) => l.name),
  };
}

/** One version's state, as /models lists it. */
function versionState(m: ServedModel) {
  return {
    version: m.version,
    state: m.state,
    ...(m.error ? { error: m.error } : {}),
    ...(m.reloadError ? { reloadError: m.reloadError } : {}),
  };
}

/** A model as /models describes it: its current version in full, and every version's state. */
function describeWithVersions(app: FastifyInstance, m: ServedModel) {
  return { ...describeModel(m), versions: app.models.versions(m.name).map(versionState) };
}

export function describeModel(m: ServedModel) {
  return {
    name: m.name,
    /** The version described (the one requests without a version get); null when none could be read. */
    version: m.version || null,
    state: m.state,
    ...(m.error ? { error: m.error } : {}),
    ...(m.reloadError ? { reloadError: m.reloadError } : {}),
    ...(m.problems ? { problems: m.problems } : {}),
    architecture: m.architecture ?? null,
    /** Where the topology came from: a zoo name, a spec, or the model file (onnx, tfjs-layers-model, keras-h5). */
    source: m.source ?? null,
    input: m.input ?? null,
    classes: m.classes ?? null,
    labels: m.labels?.length ?? null,
    preprocess: m.preprocess ?? null,
    topk: m.topk,
    engine: m.engine,
    engineTimings: m.engineTimings ?? null,
    /** ONNX Runtime: one session on every core, or one single-thread session per worker (measured). */
    arrangement: m.arrangement ?? null,
    /** Whether batches cost less per image here; where not, batches stop waiting (maxDelayMs 0). */
    batchingGain: m.batchingGain ?? null,
    /** fp32, bf16 or int8 (config.json's precision, else PRECISION); null until loading has read it. */
    precision: m.precision ?? null,
    /** A reduced precision's top-1 agreement (and accuracy) against fp32 on the model's calibration images. */
    precisionCheck: m.precisionCheck ?? null,
    backend: servingBackend(m),
    tfjsBackend: m.backend
      ? { name: m.backend.name, skipped: m.backend.skipped, wasm: m.backend.wasm ?? null }
      : null,
    params: m.params ?? null,
    macs: m.macs ?? null,
    /** The analysis of what is served (POST /analyze {"model": name} gives every layer). */
    totals: m.report?.totals ?? null,
    weights: m.weights ?? null,
    loadMs: m.loadMs ?? null,
    warmupMs: m.warmupMs ?? null,
    batching: m.batching,
    explain: describeExplain(m),
  };
}

export class UnknownServedModelError extends AppError {
  constructor(name: string, available: string[]) {
    const suggestions = closestNames(name, available);
    const hint = suggestions.length
      ? ` Did you mean ${suggestions.map((s) => JSON.stringify(s)).join(' or ')}?`
      : '';
    super(
      404,
      'MODEL_NOT_FOUND',
      `model: expected one of ${available.join(', ') || '(no models served)'}; received ${JSON.stringify(name)}.${hint}`,
      { field: 'model', received: name, suggestions, available },
    );
  }
}

/** 503 for a model that cannot answer: loading and warming up are retryable, a refused model is not. */
export function modelNotReady(m: ServedModel): AppError {
  const failed = m.state === 'failed';
  return new AppError(
    503,
    failed ? 'MODEL_FAILED' : 'MODEL_NOT_READY',
    `model ${m.name}${m.version ? ` version ${m.version}` : ''} is ${m.state}${m.error ? `: ${m.error}` : ''}`,
    { model: m.name, ...(m.version ? { version: m.version } : {}), ...(failed ? {} : { retryAfter: 1 }) },
  );
}

/** A version as a request names it (a query string, a path, a JSON or multipart field): a positive integer. */
export function parseVersion(value: unknown, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : /^\d{1,9}$/.test(String(value)) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new AppError(
      400,
      'VALIDATION_ERROR',
      `${field}: expected a model version, a positive integer; received ${describeValue(value)}`,
      { field, received: value, expected: 'a positive integer' },
    );
  return n;
}

/** The model's `version`, or the version requests without one get (its newest ready one). */
export function servedModel(app: FastifyInstance, name: string, version?: number): ServedModel {
  const m = app.hasDecorator('models') ? app.models.get(name) : undefined;
  if (!m)
    throw new UnknownServedModelError(name, app.hasDecorator('models') ? [...app.models.models.keys()] : []);
  if (version === undefined) return m;
  const v = app.models.get(name, version);
  if (!v) {
    const available = app.models.versions(name).map((x) => x.version);
    throw new AppError(
      404,
      'VERSION_NOT_FOUND',
      `version: expected one of model ${name}'s versions (${available.join(', ') || 'none'}); received ${version}`,
      { field: 'version', received: version, available },
    );
  }
  return v;
}

const modelSchema = {
  type: 'object',
  additionalProperties: true,
  properties: { name: { type: 'string' }, state: { type: 'string' }, backend: { type: ['string', 'null'] } },
};
const errorSchema = {
  type: 'object',
  additionalProperties: true,
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
};

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 200, examples: ['fashion-resnet'] } },
};

export default async function modelRoutes(app: FastifyInstance) {
  app.get(
    '/models',
    {
      schema: {
        tags: ['models'],
        summary: 'List the served models',
        description:
          'Every model folder of MODELS_DIR the service serves, described by its current version (the newest ready one, which requests without a version get), with every version and its state (loading, warming, ready, failed), and the default model of POST /classify.',
        response: {
          200: {
            type: 'object',
            'x-examples': modelsResponseExamples,
            properties: {
              default: { type: ['string', 'null'] },
              models: { type: 'array', items: modelSchema },
            },
          },
        },
      },
    },
    async () => ({
      default: app.hasDecorator('models') ? (app.models.defaultModel ?? null) : null,
      models: app.hasDecorator('models')
        ? [...app.models.models.values()].map((m) => describeWithVersions(app, m))
        : [],
    }),
  );

  app.get<{ Params: { name: string } }>(
    '/models/:name',
    {
      schema: {
        tags: ['models'],
        summary: 'Describe a served model',
        description:
          'Its current version (the newest ready one): architecture and where it came from, input size, classes, preprocessing, the engine that runs it and why (per-engine timings), its precision (below fp32, with its top-1 agreement with fp32 on its calibration images), parameters and MACs, the weights file, load and warm-up times, and its batching settings; and every version with its state.',
        params: nameParams,
        response: {
          200: { ...modelSchema, 'x-examples': modelResponseExamples },
          404: { ...errorSchema, 'x-examples': modelErrorExamples[404] },
        },
      },
    },
    async (request) => describeWithVersions(app, servedModel(app, request.params.name)),
  );

  app.get<{ Params: { name: string } }>(
    '/models/:name/model.onnx',
    {
      schema: {
        tags: ['models'],
        summary: 'Export a served model as ONNX',
        description:
          'The model with its weights as an ONNX file (opset 17), to run in ONNX Runtime or elsewhere. It takes an NHWC float32 tensor named "input", already preprocessed as GET /models/{name} describes.',
        params: nameParams,
        produces: ['application/octet-stream'],
        response: {
          200: {
            type: 'string',
            format: 'binary',
            description: 'ONNX model (opset 17), NHWC float32 input named "input"',
          },
          404: errorSchema,
          503: errorSchema,
        },
      },
    },
    async (request, reply) => {
      const m = servedModel(app, request.params.name);
      if (!isReady(m)) throw modelNotReady(m);
      const bytes = await app.models.exportOnnx(m);
      reply.header('content-type', 'application/octet-stream');
      reply.header(
        'content-disposition',
        `attachment; filename="${m.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.onnx"`,
      );
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  );
}
