/**
 * Self-description: an OpenAPI 3 document generated from the route schemas (@fastify/swagger),
 * served at /openapi.json, and the Swagger UI at /docs (its assets ship inside the package).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { classifyJsonSchema } from '../../routes/classify/schema.js';

export const API_VERSION = '0.1.0';

export default fp(
  async function openapi(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'convnet-serve',
          version: API_VERSION,
          description:
            'Serves ResNet/Inception classifiers built from architecture specs, and analyses CNN architectures exactly (shapes, parameters, MACs, memory, bottleneck savings).',
        },
        components: {
          securitySchemes: {
            apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
            bearer: { type: 'http', scheme: 'bearer' },
          },
        },
      },
      // /classify reads multipart, raw image and JSON bodies itself; document all three here.
      transform: ({ schema, url }) => {
        if (url !== '/classify') return { schema, url };
        const image = { type: 'string', format: 'binary' };
        return {
          url,
          schema: {
            ...schema,
            consumes: [
              'multipart/form-data',
              'application/json',
              'image/jpeg',
              'image/png',
              'image/webp',
              'image/gif',
              'image/tiff',
              'image/avif',
            ],
            body: {
              oneOf: [
                classifyJsonSchema,
                {
                  type: 'object',
                  description: 'multipart/form-data: one or more image files, optional model and topk fields',
                  properties: { image: image, model: { type: 'string' }, topk: { type: 'integer' } },
                },
              ],
            },
          } as typeof schema,
        };
      },
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } as object }, async () => app.swagger());
  },
  { name: 'openapi' },
);
