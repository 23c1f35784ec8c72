/**
 * {"model": <served name>, "profile": {runs?, batch?, engine?}} on POST /analyze: the served model's
 * measured time per layer (src/services/profile.ts). Only served models: a profile times the
 * model's own weights on the engine that serves it; built-in architectures and specs have no
 * weights here and are profiled by `convnet-serve profile`, in-process, with seeded weights.
 */
import type { FastifyInstance } from 'fastify';
import { analyzeGraph } from '../../src/analysis/analyze.js';
import type { ProfileReport } from '../../src/analysis/profile.js';
import { DEFAULT_PROFILE_RUNS } from '../../src/engines/profile/options.js';
import type { EngineKind } from '../../src/engines/types.js';
import { AppError } from '../../src/errors.js';
import type { ProfileService } from '../../src/services/profile.js';
import { isReady } from '../../src/serving/registry.js';
import { modelNotReady, servedModel } from '../models/index.js';

export interface ProfileRequest {
  model: string;
  profile: { runs?: number; batch?: number; engine?: EngineKind };
}

export const isProfileRequest = (body: unknown): body is ProfileRequest =>
  typeof body === 'object' && body !== null && 'profile' in body;

export async function runProfile(
  app: FastifyInstance,
  service: ProfileService,
  body: ProfileRequest,
  signal: AbortSignal,
): Promise<ProfileReport> {
  if (typeof body.model !== 'string') {
    throw new AppError(
      400,
      'VALIDATION_ERROR',
      'model: a profile runs a served model, named by "model"; built-in architectures and specs are profiled by `convnet-serve profile`',
      { field: 'model', expected: '{"model": <served model>, "profile": {runs, batch, engine}}' },
    );
  }
  // A profile measures the served model as it is: other analysis options do not apply to it.
  const extra = Object.keys(body).find((k) => k !== 'model' && k !== 'profile');
  if (extra !== undefined) {
    throw new AppError(
      400,
      'VALIDATION_ERROR',
      `${extra}: a profile takes only "model" and "profile" (set the batch as profile.batch); received ${extra} beside them`,
      { field: extra, expected: '{"model": <served model>, "profile": {runs, batch, engine}}' },
    );
  }
  const served = app.hasDecorator('models') ? [...app.models.models.keys()] : [];
  if (!served.includes(body.model)) {
    throw new AppError(
      404,
      'MODEL_NOT_FOUND',
      `model: a profile runs a served model, expected one of ${served.join(', ') || '(no models served)'}; received ${JSON.stringify(body.model)} (built-in architectures and specs are profiled by \`convnet-serve profile\`)`,
      { field: 'model', received: body.model, available: served },
    );
  }
  const model = servedModel(app, body.model);
  if (!isReady(model)) throw modelNotReady(model);
  const { runs = DEFAULT_PROFILE_RUNS, batch = 1, engine = model.engine } = body.profile;
  return service.run(
    {
      name: model.name,
      graph: model.graph,
      layers: (model.report ?? analyzeGraph(model.graph)).layers,
      weightsPath: model.weightsPath,
      engine,
    },
    { runs, batch, onnxThreads: app.config.onnxThreads },
    signal,
  );
}
