/**
 * The KServe v2 / Triton model repository extension: the index of MODELS_DIR, and loading and
 * unloading a model at run time. Load and unload answer only under MODEL_CONTROL=explicit, as
 * Triton's do (under poll the watcher decides, under none nothing changes). Behind API_KEYS when set.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../src/errors.js';
import {
  repositoryControlRequestExamples,
  repositoryIndexExamples,
  repositoryIndexRequestExamples,
  repositoryLoadExamples,
  repositoryUnloadExamples,
} from './examples.js';

const TAGS = ['kserve-v2'];

type Named = FastifyRequest<{ Params: { name: string } }>;

export default async function repositoryRoutes(app: FastifyInstance) {
  const errorBody = { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] };
  const params = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 200, examples: ['fashion-resnet'] } },
  };
  const optionalBody = {
    'x-examples': repositoryControlRequestExamples,
    anyOf: [{ type: 'object' }, { type: 'null' }],
  };

  /** Load and unload change what is served only when MODEL_CONTROL says these calls may. */
  const explicitOnly = async () => {
    if (app.config.modelControl !== 'explicit')
      throw new AppError(
        409,
        'MODEL_CONTROL',
        `MODEL_CONTROL: expected explicit for load and unload calls; the server runs with ${app.config.modelControl} (${app.config.modelControl === 'poll' ? 'the MODELS_DIR watcher decides what is served' : 'what is served never changes'})`,
        { field: 'MODEL_CONTROL', received: app.config.modelControl, expected: 'explicit' },
      );
  };
  const models = () => {
    if (!app.hasDecorator('models'))
      throw new AppError(503, 'NO_MODELS', 'no model is served (SERVE_MODELS=false)', {});
    return app.models;
  };

  app.post<{ Body: { ready?: boolean } | null }>(
    '/repository/index',
    {
      schema: {
        tags: TAGS,
        summary: 'Model repository index',
        description:
          'Every model folder of MODELS_DIR, one row per version served (READY, LOADING, or UNAVAILABLE with the reason), and folders not served as UNAVAILABLE "unloaded". `{"ready": true}` lists only the ready ones.',
        body: {
          'x-examples': repositoryIndexRequestExamples,
          anyOf: [{ type: 'object', properties: { ready: { type: 'boolean' } } }, { type: 'null' }],
        },
        response: {
          200: {
            type: 'array',
            'x-examples': repositoryIndexExamples,
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                version: { type: 'string' },
                state: { type: 'string', enum: ['READY', 'LOADING', 'UNAVAILABLE'] },
                reason: { type: 'string' },
              },
            },
          },
          503: errorBody,
        },
      },
    },
    async (request) => models().index(request.body?.ready === true),
  );

  const loaded = {
    type: 'object',
    'x-examples': repositoryLoadExamples,
    properties: {
      name: { type: 'string' },
      versions: {
        type: 'array',
        items: {
          type: 'object',
          properties: { version: { type: 'string' }, state: { type: 'string' }, error: { type: 'string' } },
        },
      },
    },
  };
  app.post(
    '/repository/models/:name/load',
    {
      schema: {
        tags: TAGS,
        summary: 'Load or reload a model',
        description:
          "Reads the model's folder now and loads the versions its versionPolicy selects (a version already loaded is reloaded if its files or config.json changed; it serves until the new copy is ready). Answers once they are ready: 200 with each version's state, or 400 with the reasons when none loads. Only under MODEL_CONTROL=explicit.",
        params,
        body: optionalBody,
        response: { 200: loaded, 400: errorBody, 404: errorBody, 409: errorBody, 503: errorBody },
      },
      preHandler: explicitOnly,
    },
    async (request: Named) => {
      const versions = await models().loadModel(request.params.name);
      return {
        name: request.params.name,
        versions: versions.map((m) => ({
          version: String(m.version),
          state: m.state,
          ...(m.error ? { error: m.error } : {}),
        })),
      };
    },
  );

  app.post(
    '/repository/models/:name/unload',
    {
      schema: {
        tags: TAGS,
        summary: 'Unload a model',
        description:
          'Stops giving the model new requests, lets the ones under way finish, and frees its copies in the inference workers; answers once it is gone. Only under MODEL_CONTROL=explicit.',
        params,
        body: optionalBody,
        response: {
          200: {
            type: 'object',
            'x-examples': repositoryUnloadExamples,
            properties: { name: { type: 'string' } },
          },
          404: errorBody,
          409: errorBody,
          503: errorBody,
        },
      },
      preHandler: explicitOnly,
    },
    async (request: Named) => {
      await models().unloadModel(request.params.name);
      return { name: request.params.name };
    },
  );
}
