/**
 * POST /classify: images in (multipart, a raw image body, or JSON {"images": [{"b64"}]}), top-k
 * labels out. Options `model` and `topk` come from the query string, JSON or multipart fields.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { AppError } from '../../src/errors.js';
import { abortOnClose } from '../../src/serving/abort.js';
import { assertFinite, softmax, topK } from '../../src/serving/postprocess.js';
import { decodeImage, probeImage } from '../../src/serving/preprocess.js';
import type { Preprocess } from '../../src/serving/model-config.js';
import type { PixelImage } from '../../src/engines/pixels.js';
import { isReady, servingBackend } from '../../src/serving/registry.js';
import { modelNotReady, parseVersion, servedModel } from '../models/index.js';
import { classifyQuery, classifyResponse, jsonBody, RAW_TYPES } from './schema.js';
import { defined } from '../../src/invariant.js';
import type { RawExplainOptions } from '../../src/serving/explain-options.js';
import { classifyExplainRequest, explainImages } from './explain.js';

interface Upload {
  file: string;
  bytes: Uint8Array;
}
interface Options extends RawExplainOptions {
  model?: string;
  version?: number;
  topk?: number;
}

/** Grad-CAM fields, checked against the model once it is known (./explain.ts). */
const EXPLAIN_FIELDS = ['explain', 'explainLayer', 'explainClass'] as const;

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string, index: number): Uint8Array {
  const clean = text.replace(/^data:[^;,]*;base64,/, '').replace(/\s+/g, '');
  if (clean.length % 4 === 1 || !B64.test(clean)) {
    throw new AppError(
      400,
      'INVALID_BASE64',
      `images[${index}].b64: expected standard base64; received ${JSON.stringify(text.slice(0, 40))}${text.length > 40 ? '…' : ''}`,
      { field: `images[${index}].b64`, file: `images[${index}]` },
    );
  }
  return Buffer.from(clean, 'base64');
}

/** Busboy's parse errors carry no status; @fastify/multipart's limit errors do. Name both plainly. */
function multipartError(
  err: Error & { code?: string; statusCode?: number },
  bodyLimit: number,
  maxImages: number,
): Error {
  if (err instanceof AppError) return err;
  switch (err.code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new AppError(
        413,
        'FILE_TOO_LARGE',
        `image: expected files of at most ${bodyLimit} bytes; received a larger one`,
        { field: 'image', limitBytes: bodyLimit },
      );
    case 'FST_FILES_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new AppError(
        413,
        'TOO_MANY_IMAGES',
        `images: expected at most ${maxImages} images per request; received more`,
        { field: 'images', limit: maxImages },
      );
    case 'FST_FIELDS_LIMIT':
      return new AppError(
        413,
        'TOO_MANY_FIELDS',
        'body: expected at most 20 multipart fields; received more',
        { field: 'body' },
      );
    case 'FST_INVALID_JSON_FIELD_ERROR':
    case 'FST_PROTO_VIOLATION':
      return new AppError(
        400,
        'MALFORMED_MULTIPART',
        `body: a multipart field is not acceptable (${err.message})`,
        { field: 'body' },
      );
  }
  if (err.statusCode && err.statusCode < 500) return err;
  return new AppError(
    400,
    'MALFORMED_MULTIPART',
    `body: expected well-formed multipart/form-data; ${err.message}`,
    { field: 'body' },
  );
}

function parseTopk(value: unknown, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new AppError(
      400,
      'VALIDATION_ERROR',
      `${field}: expected an integer from 1 to 1000; received ${JSON.stringify(value)}`,
      { field, received: value },
    );
  return n;
}

async function collect(
  app: FastifyInstance,
  request: FastifyRequest,
): Promise<{ uploads: Upload[]; options: Options }> {
  const query = request.query as Options;
  const options: Options = {
    model: query.model,
    version: parseVersion(query.version, 'query.version'),
    topk: parseTopk(query.topk, 'query.topk'),
  };
  for (const f of EXPLAIN_FIELDS) if (query[f] !== undefined) options[f] = query[f];
  const max = app.config.maxImagesPerRequest;
  const uploads: Upload[] = [];
  const add = (u: Upload) => {
    if (uploads.length >= max)
      throw new AppError(
        413,
        'TOO_MANY_IMAGES',
        `images: expected at most ${max} images per request; received more`,
        { field: 'images', limit: max },
      );
    uploads.push(u);
  };
  if (request.isMultipart()) {
    // @fastify/multipart limits each file; the request as a whole is held to BODY_LIMIT here.
    const limit = app.config.bodyLimit;
    let total = 0;
    let cutShort: Error | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file') {
          let bytes: Buffer;
          try {
            bytes = await part.toBuffer();
          } catch (err) {
            // A file the parser destroyed because the body passed a limit (too many fields before
            // it): the iterator's next step throws the limit's own error, which names it.
            if ((err as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw err;
            cutShort = err as Error;
            continue;
          }
          total += bytes.length;
          if (total > limit)
            throw new AppError(
              413,
              'BODY_TOO_LARGE',
              `body: expected at most ${limit} bytes of images; received more`,
              { field: 'body', limitBytes: limit },
            );
          add({ file: part.filename || part.fieldname, bytes });
        } else if (part.fieldname === 'model') {
          if (typeof part.value !== 'string')
            throw new AppError(
              400,
              'VALIDATION_ERROR',
              `model: expected a model name; received ${JSON.stringify(part.value)}`,
              { field: 'model' },
            );
          options.model = part.value;
        } else if (part.fieldname === 'topk') {
          options.topk = parseTopk(part.value, 'topk');
        } else if (part.fieldname === 'version') {
          options.version = parseVersion(part.value, 'version');
        } else if ((EXPLAIN_FIELDS as readonly string[]).includes(part.fieldname)) {
          options[part.fieldname as (typeof EXPLAIN_FIELDS)[number]] = part.value;
        }
      }
      if (cutShort) throw cutShort;
    } catch (err) {
      throw multipartError(err as Error & { code?: string; statusCode?: number }, app.config.bodyLimit, max);
    }
  } else if (Buffer.isBuffer(request.body)) {
    add({ file: 'body', bytes: request.body });
  } else {
    const body = request.body as Options & { images: { b64: string; name?: string }[] };
    for (const [i, img] of body.images.entries())
      add({ file: img.name ?? `images[${i}]`, bytes: decodeBase64(img.b64, i) });
    options.model = body.model ?? options.model;
    options.topk = body.topk ?? options.topk;
    options.version = body.version ?? options.version;
    for (const f of EXPLAIN_FIELDS) if (body[f] !== undefined) options[f] = body[f];
  }
  if (uploads.length === 0)
    throw new AppError(400, 'NO_IMAGES', 'images: expected at least one image; received none', {
      field: 'images',
    });
  return { uploads, options };
}

/**
 * The request's images as 8-bit pixels (the inference worker normalises them): headers read first, so an image or a request past its decode
 * budget is refused before any pixel is decoded; then decoded in turns shared fairly with other requests.
 */
async function decodeAll(
  app: FastifyInstance,
  uploads: { bytes: Uint8Array; file: string }[],
  preprocess: Preprocess,
  signal: AbortSignal,
): Promise<PixelImage[]> {
  const c = app.config;
  const limits = { maxPixels: c.maxImagePixels, maxCost: c.maxDecodeCost, timeoutSeconds: c.decodeTimeoutS };
  const images = await Promise.all(uploads.map((u) => probeImage(u.bytes, u.file, limits)));
  const cost = images.reduce((sum, image) => sum + image.decode.cost, 0);
  if (cost > c.maxRequestDecodeCost) {
    throw new AppError(
      413,
      'REQUEST_TOO_COSTLY',
      `images: expected images that cost at most ${c.maxRequestDecodeCost} to decode together (MAX_REQUEST_DECODE_COST, in megapixels of JPEG); these ${images.length} cost ${Math.ceil(cost)}`,
      { field: 'images', cost: Math.ceil(cost), limit: c.maxRequestDecodeCost },
    );
  }
  // One image failing answers the request: its images still waiting are then dropped, not decoded.
  const done = new AbortController();
  signal?.addEventListener('abort', () => done.abort(), { once: true });
  const session = app.decoder.session(done.signal);
  try {
    return await Promise.all(
      images.map((image) =>
        session.run(image.decode.cost, image.decode.memoryBytes, () => decodeImage(image, preprocess)),
      ),
    );
  } catch (err) {
    done.abort();
    throw err;
  }
}

export default async function classifyRoute(app: FastifyInstance) {
  await app.register(multipart, {
    limits: {
      fileSize: app.config.bodyLimit,
      files: app.config.maxImagesPerRequest,
      fields: 20,
      fieldSize: 1024,
      parts: app.config.maxImagesPerRequest + 20,
    },
  });
  app.addContentTypeParser(
    RAW_TYPES,
    { parseAs: 'buffer', bodyLimit: app.config.bodyLimit },
    (_req, body, done) => done(null, body),
  );

  app.post(
    '/classify',
    {
      bodyLimit: app.config.bodyLimit,
      schema: {
        tags: ['classify'],
        summary: 'Classify images',
        description:
          'Top-k labels for one or more images, from the default model or `model`. The images come as multipart/form-data files, as a raw image body (JPEG, PNG, WebP, GIF, TIFF, AVIF), or as JSON `{"images": [{"b64": ...}]}`. `model`, `version` (default: the newest ready version; the answer says which one answered) and `topk` may be query parameters, multipart fields or JSON fields. Images of one request are batched with other requests.',
        querystring: classifyQuery,
        response: classifyResponse,
      },
      preValidation: async (request) => {
        // JSON bodies are checked here; multipart and raw bodies are checked part by part.
        if (!request.isMultipart() && !Buffer.isBuffer(request.body)) {
          if (!jsonBody.validate(request.body)) {
            const e = defined(jsonBody.validate.errors?.[0], 'the schema error');
            const field = `body${e.instancePath.replace(/\//g, '.')}`;
            throw new AppError(400, 'VALIDATION_ERROR', `${field}: ${e.message}`, { field });
          }
        }
      },
    },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const { uploads, options } = await collect(app, request);
      // An empty model name means "the default", as an omitted one does.
      const modelName = options.model || app.models.defaultModel;
      if (!modelName) throw new AppError(503, 'NO_MODELS', 'no model is served', { retryAfter: 5 });
      const m = servedModel(app, modelName, options.version);
      if (!isReady(m)) throw modelNotReady(m);
      const k = Math.min(options.topk ?? m.topk, m.classes);
      const explain = classifyExplainRequest(app, m, options);
      const t0 = performance.now();
      // Listening from before decoding, so a client that leaves meanwhile is not computed for.
      const signal = abortOnClose(reply);
      // Announced while decoding, so a batch waiting to fill knows this request is coming.
      const arrival = m.batcher.expect(uploads.length);
      let images: PixelImage[];
      try {
        images = await decodeAll(app, uploads, m.preprocess, signal);
      } catch (err) {
        arrival.cancel();
        throw err;
      }
      const decodeMs = performance.now() - t0;
      // Explanations queue apart (src/serving/explainer.ts), computed while the predictions are.
      const [{ logits, timings }, explained] = await Promise.all([
        m.batcher.submit(images, signal, arrival),
        explain ? explainImages(app, m, explain, uploads, images, signal) : undefined,
      ]);
      assertFinite(logits, m.name);
      request.log.info(
        {
          model: m.name,
          version: m.version,
          images: uploads.length,
          decodeMs: Math.round(decodeMs),
          queueMs: Math.round(timings.queueMs),
          inferMs: Math.round(timings.inferMs),
        },
        'classified',
      );
      return {
        model: m.name,
        version: m.version,
        backend: servingBackend(m),
        results: logits.map((l, i) => ({
          file: uploads[i].file,
          predictions: topK(softmax(l), m.labels, k),
          ...(explained ? { explanation: explained.explanations[i] } : {}),
        })),
        timings: {
          decodeMs,
          queueMs: timings.queueMs,
          inferMs: timings.inferMs,
          ...(explained ? { explainMs: explained.explainMs } : {}),
        },
      };
    },
  );
}
