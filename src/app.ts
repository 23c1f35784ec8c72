/**
 * Builds the application as one plugin tree. Tests build it and talk to it with `app.inject`;
 * src/server.ts only reads the config, listens and shuts down.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { InferencePool } from './engines/pool.js';
import compress from '@fastify/compress';
import cors from '@fastify/cors';
import { constants as zlibConstants } from 'node:zlib';
import auth from './plugins/auth.js';
import bodyLimits from './plugins/body-limits.js';
import errorPolicy, { toErrorBody } from './plugins/errors.js';
import { clientErrorHandler } from './plugins/client-errors.js';
import openapi, { exampleKeyword } from './plugins/openapi.js';
import requestIdPlugin, { requestId } from './plugins/request-id.js';
import jsonDepth from './plugins/json-depth.js';
import { loggerOptions, ProbeLogController } from './plugins/logging.js';
import { ARCHITECTURE_SPEC_SCHEMA } from './spec/schema.js';
import analyzeRoute from '../routes/analyze/index.js';
import architecturesRoute from '../routes/architectures/index.js';
import healthRoutes, { readyAnswer } from '../routes/health/index.js';
import healthPort from './plugins/health-port.js';
import modelRoutes from '../routes/models/index.js';
import classifyRoute from '../routes/classify/index.js';
import kserveRoutes from '../routes/v2/index.js';
import metrics from './plugins/metrics.js';
import serving from './plugins/serving.js';
import explainPlugin from './plugins/explain.js';
import { deferredCompilers } from './plugins/deferred-schemas.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    /** Set on SIGTERM/SIGINT: readiness turns 503 and new work is refused while in-flight work finishes. */
    draining: boolean;
    /** Compiles the route schemas no request has needed yet (see src/plugins/deferred-schemas.ts). */
    compilePendingSchemas(): number;
  }
}

export interface AppParts {
  /** An inference pool already started (src/server.ts starts it before loading this module). */
  pool?: InferencePool;
}

export async function buildApp(config: Config, parts: AppParts = {}): Promise<FastifyInstance> {
  const schemas = deferredCompilers();
  const app = Fastify({
    schemaController: { compilersFactory: schemas.compilersFactory },
    logger: loggerOptions(config),
    logController: new ProbeLogController(),
    genReqId: requestId,
    // Errors Fastify raises before routing (a malformed URL, an over-long parameter) follow the same policy.
    frameworkErrors: (error, _request, reply) => {
      const body = toErrorBody(error as FastifyError);
      const status = body.statusCode >= 500 ? 400 : body.statusCode;
      (reply as unknown as { code(n: number): { send(b: unknown): void } })
        .code(status)
        .send({ ...body, statusCode: status });
    },
    // A slow client must not hold memory and a socket for long (nor stall a drain): the whole request
    // must arrive within CLIENT_TIMEOUT_MS, checked every second (Node checks every 30 s by default,
    // which let a slow client hold its socket for the timeout plus up to 30 s).
    requestTimeout: config.clientTimeoutMs,
    http: {
      headersTimeout: config.clientTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.clientTimeoutMs),
    },
    clientErrorHandler: clientErrorHandler(config.clientTimeoutMs),
    ajv: {
      // verbose: errors carry the offending value, so a 400 can say what it received.
      customOptions: {
        verbose: true,
        allErrors: false,
        coerceTypes: false,
        removeAdditional: false,
        useDefaults: false,
        // The architecture spec's nodes dispatch on their kind (src/spec/schema.ts).
        discriminator: true,
      },
      plugins: [exampleKeyword],
    },
  });
  app.decorate('config', config);
  app.decorate('draining', false);
  app.decorate('compilePendingSchemas', schemas.compilePending);
  app.addSchema(ARCHITECTURE_SPEC_SCHEMA);
  await app.register(errorPolicy);
  await app.register(bodyLimits);
  // JSON and text (reports of hundreds of KB, /metrics, the page) compressed for clients that accept it;
  // images and model files (already compressed, or binary) as they are. Brotli at a fast level.
  await app.register(compress, {
    global: true,
    threshold: 1024,
    encodings: ['br', 'gzip', 'deflate'],
    customTypes: /^(application\/(json|javascript)|text\/)/,
    brotliOptions: { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } },
  });
  await app.register(requestIdPlugin);
  if (config.corsOrigins.length)
    await app.register(cors, { origin: config.corsOrigins.includes('*') ? true : config.corsOrigins });
  await app.register(openapi);
  await app.register(auth);
  await app.register(jsonDepth);
  await app.register(metrics);
  if (config.serveModels) await app.register(serving, { pool: parts.pool });
  if (config.serveModels) await app.register(explainPlugin);
  await app.register(healthRoutes);
  if (config.healthPort !== undefined) {
    await app.register(healthPort, {
      host: config.host,
      port: config.healthPort,
      stallMs: config.livenessStallMs,
      // Ready also means the main port takes requests: not before listen(), nor once it has closed.
      snapshot: async () =>
        app.server.listening
          ? readyAnswer(app)
          : { statusCode: 503, body: { status: 'not_listening', reason: 'the main port is not listening' } },
    });
  }
  await app.register(modelRoutes);
  if (config.serveModels) await app.register(classifyRoute);
  await app.register(kserveRoutes, { prefix: '/v2' });
  await app.register(analyzeRoute);
  await app.register(architecturesRoute);
  await app.register(import('./plugins/ui.js')); // the web page at / and its assets under /ui/
  return app;
}
