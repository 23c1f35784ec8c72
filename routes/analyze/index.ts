/**
 * POST /analyze: exact shapes, parameters, MACs, memory and cost reports for a built-in
 * architecture, a served model, a spec, a Keras/tfjs model JSON, or an uploaded model file.
 *
 * Bodies: JSON (at most ANALYZE_BODY_LIMIT), or a model file (at most MODEL_UPLOAD_LIMIT) as the
 * raw body (`application/octet-stream`) or as a multipart file: an ONNX file, or the JSON of a
 * Keras config / tfjs model.json. For files, `input=H,W,C`, `batch`, `training` (the optimizer) and
 * `trainingBatch` go in the query string (or as multipart fields); a JSON body carries its own.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, describeValue } from '../../src/errors.js';
import { parseJsonBody } from '../../src/plugins/json-depth.js';
import { OPTIMIZERS, type Optimizer } from '../../src/analysis/training.js';
import type { AnalyzeTarget, TrainingRequest } from '../../src/services/analysis.js';
import type { AnalysisJob, LayerPage } from '../../src/services/analysis-job.js';
import { AnalysisPool } from '../../src/services/analysis-pool.js';
import { ReportCache } from '../../src/services/report-cache.js';
import { abortOnClose } from '../../src/serving/abort.js';
import type { Shape3 } from '../../src/spec/types.js';
import { analyzeBody, analyzeQuery, analyzeResponse } from './schema.js';
import { isProfileRequest, runProfile } from './profile.js';
import { ProfileService } from '../../src/services/profile.js';

/** {model}, {spec}, {compare}, a Keras/tfjs model JSON, a Keras config as JSON text, or a file's bytes. */
type AnalyzeRequest = Record<string, unknown> | string | Buffer;
interface AnalyzeQuery {
  input?: string;
  batch?: string;
  training?: Optimizer;
  trainingBatch?: string;
  layers?: 'all' | 'none';
  offset?: string;
  limit?: string;
}

function parseInput(text: string | undefined, field: string): Shape3 | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1 || p > 65_536)) {
    throw new AppError(
      400,
      'VALIDATION_ERROR',
      `${field}: expected H,W,C as three positive integers; received ${JSON.stringify(text)}`,
      { field, received: text, expected: 'H,W,C' },
    );
  }
  return parts as Shape3;
}

/** The options a model file upload takes beside the file: in the query string or as multipart fields. */
const FILE_OPTIONS = ['input', 'batch', 'training', 'trainingBatch'] as const;
type FileOptions = Partial<Record<(typeof FILE_OPTIONS)[number], string>>;

function parseBatch(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const batch = Number(text);
  if (!/^[0-9]+$/.test(text) || batch < 1 || batch > 65_536) {
    throw new AppError(
      400,
      'VALIDATION_ERROR',
      `${field}: expected an integer from 1 to 65536; received ${JSON.stringify(text)}`,
      {
        field,
        received: text,
        expected: 'an integer from 1 to 65536',
      },
    );
  }
  return batch;
}

/** `training` (an optimizer) and `trainingBatch` of a file upload; either one asks for the section. */
function parseTraining(options: FileOptions): TrainingRequest | undefined {
  const { training, trainingBatch } = options;
  if (training === undefined && trainingBatch === undefined) return undefined;
  if (training !== undefined && !(OPTIMIZERS as readonly string[]).includes(training)) {
    throw new AppError(
      400,
      'VALIDATION_ERROR',
      `training: expected an optimizer, one of ${OPTIMIZERS.join(', ')}; received ${JSON.stringify(training)}`,
      { field: 'training', received: training, expected: OPTIMIZERS.join(' | ') },
    );
  }
  return {
    ...(training === undefined ? {} : { optimizer: training as Optimizer }),
    ...(trainingBatch === undefined ? {} : { batch: parseBatch(trainingBatch, 'trainingBatch') }),
  };
}

export default async function analyzeRoute(app: FastifyInstance) {
  const baseLimits = { maxLayers: app.config.analyzeMaxLayers, maxMacs: app.config.analyzeMaxMacs };
  // Unknown names are answered with the closest built-in and served names.
  const limitsNow = () => ({
    ...baseLimits,
    servedNames: app.hasDecorator('models') ? [...app.models.models.keys()] : [],
  });
  const cache = new ReportCache();
  const uploadLimit = app.config.modelUploadLimit;
  const maxRows = app.config.analyzeMaxResponseLayers;
  const pool = new AnalysisPool(
    {
      workers: app.config.analyzeWorkers,
      queue: app.config.analyzeQueue,
      timeoutMs: app.config.analyzeTimeoutMs,
      memoryMb: app.config.analyzeMemoryMb,
      nice: app.config.backgroundNice,
    },
    app.log,
  );
  app.addHook('onClose', () => pool.close());
  const profiles = new ProfileService(
    {
      backend: app.config.tfjsBackend,
      onnxThreads: app.config.onnxThreads,
      wasmThreads: app.config.wasmThreads,
      nice: app.config.backgroundNice,
    },
    app.config.profileTimeoutMs,
  );

  function pageOf(query: AnalyzeQuery): LayerPage {
    const limit = query.limit === undefined ? maxRows : Number(query.limit);
    if (limit > maxRows) {
      throw new AppError(
        400,
        'VALIDATION_ERROR',
        `limit: expected at most ${maxRows} layer rows (ANALYZE_MAX_RESPONSE_LAYERS); received ${query.limit}`,
        { field: 'limit', received: query.limit, expected: `an integer from 1 to ${maxRows}` },
      );
    }
    return { layers: query.layers ?? 'all', offset: Number(query.offset ?? 0), limit };
  }

  // In this route's scope: JSON keeps the small limit, model files get theirs.
  /** Each JSON body's text, so a spec can cross to the analysis worker as one string (jobFor). */
  const jsonText = new WeakMap<FastifyRequest, string>();
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: app.config.analyzeBodyLimit },
    (request, body, done) => {
      jsonText.set(request, body as string);
      parseJsonBody(request, body, done);
    },
  );
  app.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: uploadLimit },
    (_req, body, done) => done(null, body),
  );
  await app.register(multipart, {
    limits: { fileSize: uploadLimit, files: 1, fields: 4, fieldSize: 1024, parts: 6 },
  });

  /** A multipart upload: one file field (the model), and the optional FILE_OPTIONS as fields. */
  async function fromMultipart(request: FastifyRequest): Promise<{ body: Buffer; options: FileOptions }> {
    let body: Buffer | undefined;
    const options: FileOptions = {};
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          body = await part.toBuffer();
        } else if ((FILE_OPTIONS as readonly string[]).includes(part.fieldname)) {
          options[part.fieldname as keyof FileOptions] = String(part.value);
        } else {
          throw new AppError(
            400,
            'VALIDATION_ERROR',
            `${part.fieldname}: not a field of a model upload; expected one of file, ${FILE_OPTIONS.join(', ')}`,
            { field: part.fieldname, received: part.fieldname, expected: `file, ${FILE_OPTIONS.join(', ')}` },
          );
        }
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      const e = err as Error & { code?: string; statusCode?: number };
      if (e.code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new AppError(
          413,
          'FILE_TOO_LARGE',
          `file: expected a model file of at most ${uploadLimit} bytes (MODEL_UPLOAD_LIMIT); received a larger one`,
          { field: 'file', limitBytes: uploadLimit },
        );
      }
      throw new AppError(
        e.statusCode && e.statusCode < 500 ? e.statusCode : 400,
        'MALFORMED_MULTIPART',
        `body: expected a multipart upload with one model file; ${e.message}`,
        { field: 'body' },
      );
    }
    if (!body)
      throw new AppError(
        400,
        'VALIDATION_ERROR',
        'file: expected a multipart file field holding the model; received none',
        { field: 'file', expected: 'an ONNX file or model JSON' },
      );
    return { body, options };
  }

  /** A served model's name stands for what is served; otherwise the target as written. */
  function resolveServed(t: unknown, field: string): AnalyzeTarget {
    const target = t as Record<string, unknown>;
    if (typeof target?.model !== 'string' || !app.hasDecorator('models')) return target as AnalyzeTarget;
    const served = app.models.get(target.model);
    if (!served?.graph) return target as AnalyzeTarget;
    const options = ['input', 'classes', 'includeTop'].filter((k) => target[k] !== undefined);
    if (options.length) {
      throw new AppError(
        400,
        'VALIDATION_ERROR',
        `${field}${options[0]}: a served model is analysed as it is served; ${options.join(', ')} apply to built-in architectures`,
        { field: `${field}${options[0]}` },
      );
    }
    return { graph: served.graph };
  }

  /** A raw model file skips the JSON schema: the importer checks it. */
  const uploads = new WeakMap<FastifyRequest, Buffer>();

  app.post<{ Body: AnalyzeRequest; Querystring: AnalyzeQuery }>(
    '/analyze',
    {
      schema: {
        tags: ['analyze'],
        summary: 'Analyse an architecture',
        description:
          'Exact per-layer shapes, parameters, MACs, element operations and memory, their totals, residual and inception blocks, and the 1x1 bottlenecks in front of k×k convs. The body is a built-in architecture `{"model"}` (GET /architectures) or a served model, an architecture spec `{"spec"}`, two of these `{"compare": [A, B]}`, or a Keras `model.to_json()` / TensorFlow.js model.json. A model file (ONNX, Keras or tfjs JSON) may also come as the raw body (application/octet-stream) or a multipart file, with `input` and `batch` in the query string.',
        body: analyzeBody,
        querystring: analyzeQuery,
        response: analyzeResponse,
      },
      // The error policy states the limit of the body's type in a 413.
      config: {
        bodyLimits: {
          'application/json': app.config.analyzeBodyLimit,
          'application/octet-stream': uploadLimit,
          'multipart/form-data': uploadLimit,
        },
      },
      preValidation: async (request) => {
        if (Buffer.isBuffer(request.body)) {
          uploads.set(request, request.body);
          request.body = undefined as never;
        }
      },
    },
    async (request, reply) => {
      let body: AnalyzeRequest = uploads.get(request) ?? request.body;
      let options: FileOptions = Object.fromEntries(
        FILE_OPTIONS.filter((k) => request.query[k] !== undefined).map((k) => [k, request.query[k]]),
      );
      if (request.isMultipart()) {
        const upload = await fromMultipart(request);
        body = upload.body;
        options = { ...options, ...upload.options };
      }
      if (
        body === undefined ||
        body === null ||
        (typeof body !== 'string' &&
          !Buffer.isBuffer(body) &&
          (typeof body !== 'object' || Array.isArray(body)))
      ) {
        throw new AppError(
          400,
          'VALIDATION_ERROR',
          `body: expected a JSON object ({"model"}, {"spec"}, {"compare"}, a Keras or tfjs model), a Keras config as JSON text, or a model file; received ${describeValue(body)}`,
          {
            field: 'body',
            received: describeValue(body),
            expected: 'a JSON object, JSON text, or a model file',
          },
        );
      }
      if (isProfileRequest(body)) {
        const report = await runProfile(app, profiles, body, abortOnClose(reply));
        reply.type('application/json; charset=utf-8');
        return Buffer.from(JSON.stringify(report));
      }
      const page = pageOf(request.query);
      let bytes: Uint8Array | undefined;
      if (Buffer.isBuffer(body)) {
        // A fresh copy, transferred to the worker: the parser's buffer may share memory with others.
        const job = {
          kind: 'file',
          bytes: new Uint8Array(body),
          input: parseInput(options.input, 'input'),
          batch: parseBatch(options.batch, 'batch'),
          training: parseTraining(options),
          page,
          limits: limitsNow(),
        } as const;
        bytes = await pool.run(job, abortOnClose(reply));
      } else {
        // Silently ignoring them would answer a different question than the one asked.
        const misplaced = Object.keys(options)[0];
        if (misplaced !== undefined) {
          throw new AppError(
            400,
            'VALIDATION_ERROR',
            `${misplaced}: the query string's ${FILE_OPTIONS.join(', ')} apply to model file uploads; a JSON body carries its own fields`,
            {
              field: misplaced,
              received: options[misplaced as keyof FileOptions],
              expected: `the body's "${misplaced === 'trainingBatch' ? 'training.batch' : misplaced}"`,
            },
          );
        }
        const servedNames =
          typeof body === 'object' &&
          app.hasDecorator('models') &&
          [body, ...(Array.isArray(body.compare) ? body.compare : [])]
            .map((t) => (typeof t === 'string' ? t : (t as { model?: unknown })?.model))
            .some((name) => typeof name === 'string' && app.models.get(name)?.graph !== undefined);
        const key =
          typeof body === 'string' || servedNames
            ? undefined
            : ReportCache.keyFor(body, JSON.stringify(page));
        bytes = key === undefined ? undefined : cache.get(key);
        if (bytes === undefined) {
          // Analysed and serialised in a worker. Not through Fastify's serializer: the documented
          // response schema has alternatives (report | comparison), which would make it validate each
          // one, several times the cost of the analysis itself.
          bytes = await pool.run(jobFor(body, page, jsonText.get(request)), abortOnClose(reply));
          if (key !== undefined) cache.set(key, bytes);
        }
      }
      reply.type('application/json; charset=utf-8');
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  );

  /** The request as a job for the analysis pool, with served models resolved to their graphs here. */
  function jobFor(body: Record<string, unknown> | string, page: LayerPage, text?: string): AnalysisJob {
    const limits = limitsNow();
    if (typeof body === 'string') return { kind: 'target', target: body, limits, page };
    const batch = typeof body.batch === 'number' ? body.batch : undefined;
    const training = body.training as AnalysisJob['training'];
    // A spec or an imported model goes as the text it came in: the worker parses it to the same
    // object (validation changed nothing in it). A name may stand for a served model, resolved here.
    if (text !== undefined && !Array.isArray(body.compare) && typeof body.model !== 'string')
      return { kind: 'json', text, batch, training, limits, page };
    if (Array.isArray(body.compare)) {
      // A side may be just a name: "resnet50" is {"model": "resnet50"}.
      const [a, b] = body.compare.map((t, i) =>
        resolveServed(typeof t === 'string' ? { model: t } : t, `compare[${i}].`),
      );
      return { kind: 'compare', targets: [a, b], batch, training, limits, page };
    }
    return { kind: 'target', target: resolveServed(body, ''), batch, training, limits, page };
  }
}
