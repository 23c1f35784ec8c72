/** POST /analyze: exact shapes, parameters, MACs, memory and cost reports for a model or spec. */
import type { FastifyInstance } from 'fastify';
import { analyzeTarget, compareTargets, type AnalyzeTarget } from '../../src/analysis/service.js';
import { analyzeBody, analyzeResponse } from './schema.js';

/** {model}, {spec}, {compare}, or a Keras/tfjs model JSON; the schema has told them apart already. */
type AnalyzeRequest = Record<string, unknown>;

export default async function analyzeRoute(app: FastifyInstance) {
  const limits = { maxLayers: app.config.analyzeMaxLayers, maxMacs: app.config.analyzeMaxMacs };
  app.post<{ Body: AnalyzeRequest }>('/analyze', {
    bodyLimit: app.config.analyzeBodyLimit,
    schema: { body: analyzeBody, response: analyzeResponse },
  }, async (request) => {
    const body = request.body;
    if (Array.isArray(body.compare)) {
      const [a, b] = body.compare as [AnalyzeTarget, AnalyzeTarget];
      const { reports, comparison } = compareTargets(a, b, { batch: body.batch as number | undefined, limits });
      return { comparison, reports };
    }
    return analyzeTarget(body as AnalyzeTarget, { batch: typeof body.batch === 'number' ? body.batch : undefined, limits });
  });
}
