/** GET /architectures: every built-in architecture with its default input, parameters and MACs. */
import type { FastifyInstance } from 'fastify';
import { ZOO } from '../../models/index.js';
import { analyzeTarget, graphFor, UnknownModelError } from '../../src/services/analysis.js';
import { tfjsModelJsonFromGraph } from '../../src/interop/keras/export.js';
import { errorSchema } from '../analyze/schema.js';
import { architecturesResponseExamples, modelJsonResponseExamples } from './examples.js';

interface ArchitectureSummary {
  name: string;
  family: string;
  layout: string;
  description: string;
  reference: string;
  input: readonly number[];
  classes: number;
  params: number;
  trainableParams: number;
  macs: number;
}

/** Computed on first request, then kept: the zoo does not change while the process runs. */
function summarise(): ArchitectureSummary[] {
  return [...ZOO.values()].map((e) => {
    const { totals } = analyzeTarget({ model: e.name });
    return {
      name: e.name,
      family: e.family,
      layout: e.layout,
      description: e.description,
      reference: e.reference,
      input: e.defaultInput,
      classes: e.defaultClasses,
      params: totals.params,
      trainableParams: totals.trainableParams,
      macs: totals.macs,
    };
  });
}

export default async function architecturesRoute(app: FastifyInstance) {
  let cached: ArchitectureSummary[] | undefined;
  app.get(
    '/architectures',
    {
      schema: {
        tags: ['analyze'],
        summary: 'List the built-in architectures',
        description:
          'Every architecture POST /analyze and GET /architectures/{name}/model.json know by name, with its family, reference, default input, classes, parameters and MACs at that input.',
        response: {
          200: {
            type: 'object',
            'x-examples': architecturesResponseExamples,
            properties: {
              architectures: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    name: { type: 'string' },
                    family: { type: 'string' },
                    layout: { type: 'string' },
                    description: { type: 'string' },
                    reference: { type: 'string' },
                    input: { type: 'array', items: { type: 'integer' } },
                    classes: { type: 'integer' },
                    params: { type: 'integer' },
                    trainableParams: { type: 'integer' },
                    macs: { type: 'integer' },
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => {
      cached ??= summarise();
      return { architectures: cached };
    },
  );

  // The architecture as a TensorFlow.js layers-model topology (Keras config), to take to other
  // runtimes. Its weightsManifest names every weight and shape, with no shards: weights are the
  // user's. Architectures Keras cannot express (scaled adds, size-changing ceil-mode pools) are a 422.
  app.get<{ Params: { name: string } }>(
    '/architectures/:name/model.json',
    {
      schema: {
        tags: ['analyze'],
        summary: 'An architecture as a TensorFlow.js model.json',
        description:
          'The topology as a TensorFlow.js layers-model (a Keras config), to load in other runtimes. Its weightsManifest names every weight and its shape, without shards: the weights are yours. An architecture Keras cannot express (a scaled add, a size-changing ceil-mode pool) is a 422.',
        params: {
          type: 'object',
          properties: { name: { type: 'string', maxLength: 200, examples: ['seed_5x5'] } },
        },
        response: {
          200: {
            description: 'A TensorFlow.js layers-model model.json without weight files',
            type: 'object',
            additionalProperties: true,
            required: ['format', 'modelTopology', 'weightsManifest'],
            'x-examples': modelJsonResponseExamples,
            properties: {
              format: { type: 'string' },
              generatedBy: { type: 'string' },
              convertedBy: { type: ['string', 'null'] },
              modelTopology: { type: 'object', additionalProperties: true },
              weightsManifest: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          400: errorSchema,
          404: errorSchema,
          422: errorSchema,
        },
      },
    },
    async (request) => {
      if (!ZOO.has(request.params.name)) throw new UnknownModelError(request.params.name, 'name');
      return tfjsModelJsonFromGraph(graphFor({ model: request.params.name }));
    },
  );
}
