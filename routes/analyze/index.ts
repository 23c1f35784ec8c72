/** POST /analyze: exact shapes, parameters, MACs, memory and cost reports for a model or spec. */
import type { FastifyInstance } from 'fastify';
import { analyzeTarget, compareTargets, type AnalyzeTarget } from '../../src/services/analysis.js';
import { ReportCache } from '../../src/services/report-cache.js';
import { analyzeBody, analyzeResponse } from './schema.js';

/** {model}, {spec}, {compare}, a Keras/tfjs model JSON, or a Keras config as JSON text; the schema has told them apart already. */
type AnalyzeRequest = Record<string, unknown> | string;

export default async function analyzeRoute(app: FastifyInstance) {
  const limits = { maxLayers: app.config.analyzeMaxLayers, maxMacs: app.config.analyzeMaxMacs };
  const cache = new ReportCache();
  app.post<{ Body: AnalyzeRequest }>('/analyze', {
    bodyLimit: app.config.analyzeBodyLimit,
    schema: { body: analyzeBody, response: analyzeResponse },
  }, async (request, reply) => {
    const body = request.body;
    const key = typeof body === 'string' ? undefined : ReportCache.keyFor(body);
    let json = key === undefined ? undefined : cache.get(key);
    if (json === undefined) {
      // Serialised here with JSON.stringify: the documented response schema has alternatives
      // (report | comparison), which would make Fastify's serializer validate each one, several
      // times the cost of the analysis itself.
      json = JSON.stringify(analyze(body));
      if (key !== undefined) cache.set(key, json);
    }
    reply.type('application/json; charset=utf-8');
    return json;
  });

  function analyze(body: AnalyzeRequest) {
    if (typeof body === 'string') return analyzeTarget(body, { limits });
    if (Array.isArray(body.compare)) {
      const [a, b] = body.compare as [AnalyzeTarget, AnalyzeTarget];
      const { reports, comparison } = compareTargets(a, b, { batch: body.batch as number | undefined, limits });
      return { comparison, reports };
    }
    return analyzeTarget(body as AnalyzeTarget, { batch: typeof body.batch === 'number' ? body.batch : undefined, limits });
  }
}
