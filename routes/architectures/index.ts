/** GET /architectures: every built-in architecture with its default input, parameters and MACs. */
import type { FastifyInstance } from 'fastify';
import { ZOO } from '../../models/index.js';
import { analyzeTarget } from '../../src/analysis/service.js';

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
  app.get('/architectures', {
    schema: {
     
     
      response: {
        200: {
          type: 'object',
          properties: {
            architectures: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  name: { type: 'string' }, family: { type: 'string' }, layout: { type: 'string' }, description: { type: 'string' },
                  reference: { type: 'string' }, input: { type: 'array', items: { type: 'integer' } }, classes: { type: 'integer' },
                  params: { type: 'integer' }, trainableParams: { type: 'integer' }, macs: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    },
  }, async () => ({ architectures: (cached ??= summarise()) }));
}
