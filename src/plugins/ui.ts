/**
 * The web page: `public/` served as is (hand-written ES modules, no build step), index.html at `/`
 * and every asset under `/ui/`. The page talks only to this service's own API; the Content Security
 * Policy below makes the browser refuse anything else, so "nothing is fetched from outside" is
 * enforced rather than hoped for.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * `public/` sits at the repository root. This file runs from `src/plugins/` under tsx and from
 * `dist/src/plugins/` once compiled, so look upwards for it instead of fixing the depth.
 */
export function publicDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    dir = path.dirname(dir);
    const candidate = path.join(dir, 'public');
    if (existsSync(path.join(candidate, 'index.html'))) return candidate;
  }
  throw new Error(`public/index.html not found above ${fileURLToPath(import.meta.url)}`);
}

// blob: for the preview of a picked image (an object URL); styles only from files, so no inline CSS.
// The Swagger UI at /docs has the same policy (src/plugins/openapi.ts).
export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Not wrapped in fastify-plugin: the headers hook applies to the page and its assets only. */
export default async function ui(app: FastifyInstance) {
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    return payload;
  });
  await app.register(fastifyStatic, { root: publicDir(), prefix: '/ui/', index: false });
  // The page's own URL; its assets are revalidated (max-age 0) so an upgrade is seen at once.
  app.get('/', { schema: { hide: true } as object }, (_request, reply) => reply.sendFile('index.html'));
}
