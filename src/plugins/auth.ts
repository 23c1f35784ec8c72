/**
 * Optional API keys (API_KEYS, comma-separated) for the inference and admin routes. Health,
 * metrics, the OpenAPI document, the docs and the web page stay open. Keys are accepted as
 * `Authorization: Bearer <key>` or `X-API-Key: <key>` and compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';

const OPEN = [
  /^\/health\//,
  /^\/metrics$/,
  /^\/openapi\.json$/,
  /^\/docs(\/|$)/,
  /^\/v2\/health\//,
  /^\/$/,
  /^\/ui\//,
  /^\/v2\/?$/,
];

const digest = (key: string) => createHash('sha256').update(key).digest();

function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string' && /^bearer /i.test(auth)) return auth.slice(7).trim(); // the scheme is case-insensitive (RFC 7235)
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header : undefined;
}

export default fp(
  async function apiKeys(app: FastifyInstance) {
    const keys = app.config.apiKeys.map(digest);
    if (keys.length === 0) return;
    app.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0];
      if (OPEN.some((re) => re.test(path))) return;
      const key = presentedKey(request);
      const ok = key !== undefined && keys.some((k) => timingSafeEqual(k, digest(key)));
      if (!ok) {
        reply.header('www-authenticate', 'Bearer');
        throw new AppError(
          401,
          'UNAUTHORIZED',
          `authorization: expected a valid API key in "Authorization: Bearer <key>" or "X-API-Key"; received ${key === undefined ? 'none' : 'an unknown key'}`,
          { field: 'authorization' },
        );
      }
    });
  },
  { name: 'api-keys' },
);
