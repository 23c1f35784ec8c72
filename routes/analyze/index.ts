/** POST /analyze: exact shapes, parameters, MACs, memory and cost reports for a model or spec. */
import type { FastifyInstance } from 'fastify';
import { analyzeTarget, compareTargets, type AnalyzeTarget } from '../../src/analysis/service.js';
import { analyzeBody, analyzeResponse } from './schema.js';

type AnalyzeRequest = (AnalyzeTarget & { batch?: number }) | { compare: [AnalyzeTarget, AnalyzeTarget]; batch?: number };

export default async function analyzeRoute(app: FastifyInstance) {
  const limits = { maxLayers: app.config.analyzeMaxLayers, maxMacs: app.config.analyzeMaxMacs };
  app.post<{ Body: AnalyzeRequest }>('/analyze', {
    bodyLimit: app.config.analyzeBodyLimit,
    schema: { body: analyzeBody, response: analyzeResponse },
  }, async (request) => {
    const body = request.body;
    if ('compare' in body) {
      const { reports, comparison } = compareTargets(body.compare[0], body.compare[1], { batch: body.batch, limits });
      return { comparison, reports };
    }
    return analyzeTarget(body, { batch: body.batch, limits });
  });
}
