/**
 * KServe v2 / Open Inference Protocol (REST), so KServe and Triton clients can call the service.
 * Inference takes one FP32 tensor [N, H, W, C] that is already preprocessed and returns `logits`
 * (before softmax) and `probabilities`. Errors use the protocol's `{"error": "..."}` body.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../src/errors.js';
import { keepRefusedBodyReadable, notFoundBody, toErrorBody } from '../../src/plugins/errors.js';
import { assertFinite, softmax } from '../../src/serving/postprocess.js';
import { isReady, type ReadyModel, servingBackend, type ServedModel } from '../../src/serving/registry.js';
import { readiness } from '../health/index.js';
import { modelNotReady, parseVersion, servedModel } from '../models/index.js';
import repositoryRoutes from './repository.js';
import { abortOnClose } from '../../src/serving/abort.js';
import { PACKAGE } from '../../src/config.js';
import { EXPLAIN_OUTPUTS, kserveExplainOutputs, kserveExplainRequest } from './explain.js';
import {
  inferRequestExamples,
  inferResponseExamples,
  modelMetadataExamples,
  modelReadyExamples,
  serverLiveExamples,
  serverMetadataExamples,
  serverReadyExamples,
  v2ErrorExamples,
} from './examples.js';

const TAGS = ['kserve-v2'];

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
  parameters?: Record<string, unknown>;
}
interface InferRequest {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferInput[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

const OUTPUTS = ['logits', 'probabilities'] as const;
const FLOAT32_MAX = 3.4028234663852886e38;
/** Generous JSON bytes per tensor element ("-0.123456789012345," is 20). */
const JSON_BYTES_PER_ELEMENT = 32;

const inferSchema = {
  type: 'object',
  'x-examples': inferRequestExamples,
  required: ['inputs'],
  properties: {
    id: { type: 'string', maxLength: 256 },
    parameters: { type: 'object' },
    inputs: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
      items: {
        type: 'object',
        required: ['name', 'shape', 'datatype', 'data'],
        properties: {
          name: { type: 'string', maxLength: 256 },
          shape: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 4, maxItems: 4 },
          datatype: { type: 'string', enum: ['FP32'] },
          parameters: { type: 'object' },
          data: { type: 'array' },
        },
      },
    },
    outputs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', enum: [...OUTPUTS, ...EXPLAIN_OUTPUTS] },
          parameters: { type: 'object' },
        },
      },
    },
  },
};

function metadata(app: FastifyInstance, m: ServedModel) {
  const [h, w, c] = m.input ?? [0, 0, 0];
  return {
    name: m.name,
    versions: app.models
      .versions(m.name)
      .filter((v) => v.state === 'ready')
      .map((v) => String(v.version))
      .reverse(),
    platform: `convnet-serve_${m.engine}`,
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, h, w, c] }],
    outputs: OUTPUTS.map((name) => ({ name, datatype: 'FP32', shape: [-1, m.classes ?? 0] })),
    parameters: {
      engine: m.engine,
      backend: servingBackend(m),
      state: m.state,
      preprocess: m.preprocess ?? null,
      precision: m.precision ?? null,
      precisionCheck: m.precisionCheck ?? null,
    },
  };
}

/** Row-major flattening of `data`, which may be flat or nested; every value must be a finite number. */
function flatten(data: unknown[], expected: number): Float32Array {
  const out = new Float32Array(expected);
  let n = 0;
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v);
      return;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > FLOAT32_MAX) {
      throw new AppError(
        400,
        'INVALID_TENSOR',
        `inputs[0].data: expected finite FP32 numbers (|x| <= 3.4e38); received ${JSON.stringify(value)} at element ${n}`,
      );
    }
    if (n >= expected)
      throw new AppError(
        400,
        'INVALID_TENSOR',
        `inputs[0].data: expected ${expected} elements for the declared shape; received more`,
      );
    out[n++] = value;
  };
  walk(data);
  if (n !== expected)
    throw new AppError(
      400,
      'INVALID_TENSOR',
      `inputs[0].data: expected ${expected} elements for the declared shape; received ${n}`,
    );
  return out;
}

function readyModel(app: FastifyInstance, name: string, version?: string): ReadyModel {
  const m = servedModel(app, name, parseVersion(version, 'version'));
  if (!isReady(m)) throw modelNotReady(m);
  return m;
}

export default async function kserveRoutes(app: FastifyInstance) {
  app.setErrorHandler((err, request, reply) => {
    const body = toErrorBody(err as Error, request.routeOptions?.bodyLimit ?? app.config.bodyLimit);
    keepRefusedBodyReadable(request, reply, body, request.routeOptions?.bodyLimit ?? app.config.bodyLimit);
    if (body.statusCode >= 500 && body.code === 'INTERNAL_ERROR')
      request.log.error({ err }, 'request failed');
    if (typeof body.retryAfter === 'number') reply.header('retry-after', String(body.retryAfter));
    reply.code(body.statusCode).send({ error: body.message });
  });
  app.setNotFoundHandler((request, reply) => {
    const body = notFoundBody(app, request, reply);
    reply.code(body.statusCode).send({ error: body.message });
  });

  const errorBody = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] };
  const tensorMeta = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      datatype: { type: 'string' },
      shape: { type: 'array', items: { type: 'integer' } },
    },
  };
  const modelMetadata = {
    type: 'object',
    properties: {
      name: { type: 'string' },
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string' },
      inputs: { type: 'array', items: tensorMeta },
      outputs: { type: 'array', items: tensorMeta },
      parameters: { type: 'object', additionalProperties: true },
    },
  };
  const inferResponse = {
    type: 'object',
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      id: { type: 'string' },
      outputs: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            datatype: { type: 'string' },
            shape: { type: 'array', items: { type: 'integer' } },
            data: { type: 'array', items: { type: 'number' } },
            parameters: { type: 'object', additionalProperties: true },
          },
        },
      },
    },
  };
  const errors = { 400: errorBody, 404: errorBody, 413: errorBody, 503: errorBody, 504: errorBody };

  app.get(
    '/',
    {
      schema: {
        tags: TAGS,
        summary: 'Server metadata',
        response: {
          200: {
            type: 'object',
            'x-examples': serverMetadataExamples,
            properties: {
              name: { type: 'string' },
              version: { type: 'string' },
              extensions: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    },
    async () => ({ name: PACKAGE.name, version: PACKAGE.version, extensions: ['model_repository'] }),
  );
  app.get(
    '/health/live',
    {
      config: { probe: true },
      schema: {
        tags: TAGS,
        summary: 'Server liveness',
        description: "As GET /health/live, in the protocol's form.",
        response: {
          200: {
            type: 'object',
            properties: { live: { type: 'boolean' } },
            'x-examples': serverLiveExamples,
          },
        },
      },
    },
    async () => ({ live: true }),
  );
  const readyBody = { type: 'object', properties: { ready: { type: 'boolean' } } };
  app.get(
    '/health/ready',
    {
      config: { probe: true },
      schema: {
        tags: TAGS,
        summary: 'Server readiness',
        description: "As GET /health/ready, in the protocol's form: 503 until every model is ready.",
        response: { 200: { ...readyBody, 'x-examples': serverReadyExamples }, 503: readyBody },
      },
    },
    async (_request, reply) => {
      const r = readiness(app);
      reply.code(r.ready ? 200 : 503);
      return { ready: r.ready };
    },
  );

  type Named = FastifyRequest<{ Params: { name: string; version?: string } }>;
  const name = { type: 'string', maxLength: 200, examples: ['fashion-resnet'] };
  const params = { type: 'object', properties: { name } };
  const versionedParams = {
    type: 'object',
    properties: { name, version: { type: 'string', maxLength: 20, examples: ['1'] } },
  };
  const named = (request: Named) =>
    servedModel(app, request.params.name, parseVersion(request.params.version, 'version'));
  const metadataSchema = {
    tags: TAGS,
    summary: 'Model metadata',
    description:
      'The input tensor (NHWC FP32, already preprocessed as `parameters.preprocess` says), the two outputs, the engine and backend.',
    params,
    response: { 200: { ...modelMetadata, 'x-examples': modelMetadataExamples }, ...errors },
  };
  app.get('/models/:name', { schema: metadataSchema }, async (request: Named) =>
    metadata(app, named(request)),
  );
  app.get(
    '/models/:name/versions/:version',
    { schema: { ...metadataSchema, summary: 'Model metadata, by version', params: versionedParams } },
    async (request: Named) => metadata(app, named(request)),
  );
  const modelReady = {
    type: 'object',
    properties: { name: { type: 'string' }, version: { type: 'string' }, ready: { type: 'boolean' } },
  };
  const readySchema = {
    tags: TAGS,
    summary: 'Model readiness',
    description:
      '503 while the model (its newest version, or the version named) loads or warms up, when it failed, or while the service drains.',
    params,
    response: {
      200: { ...modelReady, 'x-examples': modelReadyExamples },
      503: modelReady,
      404: { ...errorBody, 'x-examples': v2ErrorExamples[404] },
    },
  };
  const isModelReady = async (request: Named, reply: FastifyReply) => {
    const m = named(request);
    const ready = m.state === 'ready' && !app.draining;
    reply.code(ready ? 200 : 503);
    return { name: m.name, version: String(m.version), ready };
  };
  app.get('/models/:name/ready', { schema: readySchema }, isModelReady);
  app.get(
    '/models/:name/versions/:version/ready',
    { schema: { ...readySchema, summary: 'Model readiness, by version', params: versionedParams } },
    isModelReady,
  );

  const infer = async (
    request: FastifyRequest<{ Params: { name: string; version?: string }; Body: InferRequest }>,
    reply: FastifyReply,
  ) => {
    const m = readyModel(app, request.params.name, request.params.version);
    const body = request.body;
    const input = body.inputs[0];
    const [h, w, c] = m.input;
    const [n, ih, iw, ic] = input.shape;
    if (ih !== h || iw !== w || ic !== c || n < 1) {
      throw new AppError(
        400,
        'INVALID_SHAPE',
        `inputs[0].shape: expected [N, ${h}, ${w}, ${c}] with N >= 1; received ${JSON.stringify(input.shape)}`,
      );
    }
    if (n > app.config.maxImagesPerRequest) {
      throw new AppError(
        413,
        'TOO_MANY_IMAGES',
        `inputs[0].shape[0]: expected at most ${app.config.maxImagesPerRequest} images; received ${n}`,
      );
    }
    const explain = kserveExplainRequest(app, m, body.parameters);
    const flat = flatten(input.data, n * h * w * c);
    const per = h * w * c;
    // Views, not copies: the batcher copies each image into its batch (src/engines/batch-input.ts).
    const images = Array.from({ length: n }, (_, i) => flat.subarray(i * per, (i + 1) * per));
    const signal = abortOnClose(reply);
    // Explanations queue apart (src/serving/explainer.ts), computed while the logits are.
    const [{ logits }, explained] = await Promise.all([
      m.batcher.submit(images, signal),
      explain ? kserveExplainOutputs(app, m, explain, images, signal) : [],
    ]);
    assertFinite(logits, m.name);
    const wanted = new Set<string>(body.outputs?.map((o) => o.name) ?? [...OUTPUTS, ...EXPLAIN_OUTPUTS]);
    const k = m.classes;
    const rows = (f: (l: Float32Array) => Float32Array) => logits.flatMap((l) => Array.from(f(l)));
    return {
      model_name: m.name,
      model_version: String(m.version),
      ...(body.id !== undefined ? { id: body.id } : {}),
      outputs: [
        ...(wanted.has('logits')
          ? [{ name: 'logits', datatype: 'FP32', shape: [n, k], data: rows((l) => l) }]
          : []),
        ...(wanted.has('probabilities')
          ? [{ name: 'probabilities', datatype: 'FP32', shape: [n, k], data: rows(softmax) }]
          : []),
        ...explained.filter((o) => wanted.has(o.name)),
      ],
    };
  };
  const inferOptions = {
    bodyLimit: app.config.bodyLimit,
    schema: {
      tags: TAGS,
      summary: 'Infer',
      description:
        'One FP32 tensor [N, H, W, C], already preprocessed (GET /v2/models/{name} gives the size and the preprocessing), flat or nested in `data`. Answers `logits` (before softmax) and `probabilities`, or those named in `outputs`. Batched with other requests, as POST /classify is. With `parameters.explain` "gradcam" (and optionally `explainLayer`, `explainClass`, as on /classify), also `gradcam` (FP32 [N, h, w] maps in [0, 1], `parameters.layer` naming the layer) and `gradcam_class` (INT32 [N], the classes explained), from the explanation queue.',
      params,
      body: inferSchema,
      response: {
        200: { ...inferResponse, 'x-examples': inferResponseExamples },
        ...errors,
        404: { ...errorBody, 'x-examples': v2ErrorExamples[404] },
      },
    },
    // Parsed JSON numbers take ~5x their text in memory: refuse a body larger than this model's
    // biggest legitimate request before parsing it.
    preParsing: async (request: FastifyRequest<{ Params: { name: string } }>) => {
      const m = app.hasDecorator('models') ? app.models.get(request.params.name) : undefined;
      const length = Number(request.headers['content-length']);
      if (!m?.input || !Number.isFinite(length)) return;
      const limit =
        app.config.maxImagesPerRequest * m.input[0] * m.input[1] * m.input[2] * JSON_BYTES_PER_ELEMENT +
        65_536;
      if (length > limit)
        throw new AppError(
          413,
          'BODY_TOO_LARGE',
          `body: expected at most ${limit} bytes for ${app.config.maxImagesPerRequest} images of model ${m.name}; received ${length}`,
          { limitBytes: limit },
        );
    },
  };
  app.post('/models/:name/infer', inferOptions, infer);
  app.post(
    '/models/:name/versions/:version/infer',
    {
      ...inferOptions,
      schema: { ...inferOptions.schema, summary: 'Infer, by version', params: versionedParams },
    },
    infer,
  );
  await repositoryRoutes(app);
}
