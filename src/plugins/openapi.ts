/**
 * Self-description: an OpenAPI 3.1 document generated from the route schemas (@fastify/swagger),
 * served at /openapi.json, and the Swagger UI at /docs (its assets ship inside the package).
 *
 * Each route schema carries one of TAGS, a summary, a description, and examples as `x-examples`
 * on its body and response schemas: @fastify/swagger turns those into the named `examples` of the
 * document's media types. The examples are recorded answers of the service, in routes/{route}/examples.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { classifyDocBody } from '../../routes/classify/schema.js';
import { PACKAGE } from '../config.js';
import { CSP, publicDir } from './ui.js';

/** Every operation has exactly one of these tags (test/routes/openapi.test.ts checks). */
export const TAGS = [
  { name: 'classify', description: 'Top-k labels for images, from the served classifiers' },
  {
    name: 'analyze',
    description:
      'Exact shapes, parameters, MACs and memory of CNN architectures, and the built-in architectures',
  },
  { name: 'models', description: 'The served models: what each is, where it came from, how it runs' },
  {
    name: 'kserve-v2',
    description: 'KServe v2 / Open Inference Protocol (REST), for KServe and Triton clients',
  },
  { name: 'health', description: 'Liveness and readiness, for orchestrators and load balancers' },
  { name: 'ops', description: 'Prometheus metrics and this document' },
] as const;

/**
 * `x-examples` is not a JSON Schema keyword: Fastify's validator must know it, as an annotation
 * that accepts everything, before it compiles a schema that carries one.
 */
export function exampleKeyword(ajv: Ajv): Ajv {
  return ajv.addKeyword({ keyword: 'x-examples' });
}

const INFO = {
  title: PACKAGE.name,
  version: PACKAGE.version,
  description:
    'Serves ResNet/Inception classifiers built from architecture specs, and analyses CNN architectures exactly (shapes, parameters, MACs, memory, bottleneck savings).',
  license: { name: PACKAGE.license, identifier: PACKAGE.license },
};

/** /openapi.json as it begins: the real document is this with every path and its schemas. */
const documentExamples = {
  abridged: {
    summary: 'The start of this document (abridged: no paths or components)',
    value: {
      openapi: '3.1.0',
      info: INFO,
      tags: TAGS,
    },
  },
};

export default fp(
  async function openapi(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: INFO,
        tags: [...TAGS],
        components: {
          securitySchemes: {
            apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
            bearer: { type: 'http', scheme: 'bearer' },
          },
        },
      },
      // /classify reads multipart, raw image and JSON bodies itself (no body schema for Fastify to
      // validate): its documented body, one schema per content type, is added here.
      transform: ({ schema, url }) =>
        url === '/classify'
          ? { url, schema: { ...schema, body: classifyDocBody } as typeof schema }
          : { schema, url },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
    });
    const logo = readFileSync(path.join(publicDir(), 'logo.svg'));
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      logo: { type: 'image/svg+xml', content: logo },
      theme: {
        title: `${PACKAGE.name} ${PACKAGE.version} API`,
        favicon: [{ filename: 'logo.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: logo }],
      },
      // The page loads only from this service, as the web page does.
      staticCSP: CSP,
    });
    app.get(
      '/openapi.json',
      {
        schema: {
          tags: ['ops'],
          summary: 'This OpenAPI 3.1 document',
          description: 'Generated from the route schemas at start-up. The Swagger UI at /docs reads it.',
          response: {
            200: {
              description: 'The document',
              type: 'object',
              required: ['openapi', 'info'],
              additionalProperties: true,
              'x-examples': documentExamples,
            },
          },
        },
      },
      async () => app.swagger(),
    );
  },
  { name: 'openapi' },
);
