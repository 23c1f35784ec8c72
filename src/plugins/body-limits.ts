/**
 * Body limits a real client can read. Refusing a body is easy; being heard is not: a server that
 * answers 413 and closes while the client is still sending makes the client's kernel see a reset,
 * and Python's http.client or curl report "connection reset" instead of the JSON we wrote. So:
 * - `Expect: 100-continue` with a Content-Length over the route's limit is answered 413 at once,
 *   before the client sends the body (and the connection then closes);
 * - a body found too large while reading (a Content-Length over the limit, chunked, or a lying
 *   length) is answered 413, and the rest of it is read and thrown away, up to 4× the limit or 10 s,
 *   so the client finishes sending and reads the answer; past that bound the socket is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Body limits by content type, for routes whose parsers differ (see bodyLimitFor). */
    bodyLimits?: Record<string, number>;
  }
}

/** How much more than the limit a refused body may still send, and for how long. */
const DRAIN_FACTOR = 4;
const DRAIN_MS = 10_000;

/**
 * The body limit that applied to a request: the route's, or for routes whose limit depends on the
 * content type (POST /analyze: JSON or a model file), the one its `config.bodyLimits` names.
 */
export function bodyLimitFor(request: FastifyRequest): number | undefined {
  const byType = request.routeOptions?.config?.bodyLimits;
  const type = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (byType && type && byType[type] !== undefined) return byType[type];
  return request.routeOptions?.bodyLimit;
}

export function bodyTooLarge(limit: number): AppError {
  return new AppError(413, 'BODY_TOO_LARGE', `body: expected at most ${limit} bytes; received more`, {
    field: 'body',
    expected: `at most ${limit} bytes`,
    limitBytes: limit,
  });
}

/** Reads and discards what is left of a refused body, within bounds, so the client can read our answer. */
export function drainRefusedBody(req: IncomingMessage, limit: number): void {
  // Nothing to drain once the body has been read to its end (app.inject's requests never set
  // `complete`, only `readableEnded`), and nothing to close on a stand-in socket without destroy().
  if (req.complete || req.readableEnded || req.socket.destroyed || typeof req.socket.destroy !== 'function')
    return;
  const socket = req.socket;
  const start = socket.bytesRead;
  const began = Date.now();
  const stop = () => clearInterval(timer);
  const timer = setInterval(() => {
    if (req.complete || socket.destroyed) return stop();
    if (socket.bytesRead - start > DRAIN_FACTOR * limit || Date.now() - began > DRAIN_MS) {
      stop();
      socket.destroy();
    }
  }, 50);
  timer.unref();
  req.once('end', stop);
  socket.once('close', stop);
  req.resume();
}

export default fp(
  async function bodyLimits(app: FastifyInstance) {
    // Node answers `Expect: 100-continue` itself unless someone listens; listen, and let the route decide.
    app.server.on('checkContinue', (req, res) => app.server.emit('request', req, res));
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers.expect?.toLowerCase() !== '100-continue') return;
      const length = Number(request.headers['content-length']);
      const limit = bodyLimitFor(request) ?? app.initialConfig.bodyLimit ?? Number.POSITIVE_INFINITY;
      if (Number.isFinite(length) && length > limit) {
        // The client sends nothing until it hears 100; after this answer it sends nothing at all.
        reply.header('connection', 'close');
        throw bodyTooLarge(limit);
      }
      if (!reply.raw.headersSent) reply.raw.writeContinue();
    });
  },
  { name: 'body-limits' },
);
