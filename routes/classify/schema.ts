/** Schemas for POST /classify. The JSON form is checked in preValidation (multipart and raw bodies are not JSON). */
import { Ajv } from 'ajv';
import { classifyErrorExamples, classifyRequestExamples, classifyResponseExamples } from './examples.js';

/** Content types of a raw image body. */
export const RAW_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/tiff',
  'image/avif',
  'application/octet-stream',
];

/** Grad-CAM options; values are checked against the model in the handler (src/serving/explain-options.ts). */
const explainProperties = {
  explain: {
    anyOf: [{ type: 'string', maxLength: 20 }, { type: 'boolean' }],
    description: 'gradcam (or true) adds an explanation to each result',
  },
  explainLayer: {
    type: 'string',
    maxLength: 200,
    description: 'the layer to explain (default: the last with a spatial output)',
  },
  explainClass: {
    anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 10 }],
    description: 'the class to explain (default: the top one)',
  },
} as const;

export const classifyJsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['images'],
  properties: {
    images: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['b64'],
        properties: { b64: { type: 'string' }, name: { type: 'string', maxLength: 1024 } },
      },
    },
    model: { type: 'string', maxLength: 200 },
    version: { type: 'integer', minimum: 1 },
    topk: { type: 'integer', minimum: 1, maximum: 1000 },
    ...explainProperties,
  },
} as const;

const ajv = new Ajv({ allErrors: false });
export const jsonBody = { schema: classifyJsonSchema, validate: ajv.compile(classifyJsonSchema) };

const image = { type: 'string', format: 'binary' } as const;

/**
 * The body as the OpenAPI document describes it, one schema per content type. Fastify validates
 * none of it: the JSON form is checked in preValidation, the others part by part.
 */
export const classifyDocBody = {
  content: {
    'application/json': { schema: { ...classifyJsonSchema, 'x-examples': classifyRequestExamples } },
    'multipart/form-data': {
      schema: {
        type: 'object',
        description:
          'One or more image files (any field name), and optional model, version, topk and explain fields',
        properties: {
          image,
          model: { type: 'string' },
          version: { type: 'integer' },
          topk: { type: 'integer' },
          explain: { type: 'string' },
          explainLayer: { type: 'string' },
          explainClass: { type: 'integer' },
        },
      },
    },
    ...Object.fromEntries(
      RAW_TYPES.map((type) => [type, { schema: { ...image, description: 'One image as the whole body' } }]),
    ),
  },
};

export const classifyQuery = {
  type: 'object',
  properties: {
    model: { type: 'string', maxLength: 200, examples: ['fashion-resnet'] },
    version: { type: 'string', maxLength: 20, examples: ['2'] },
    topk: { type: 'string', pattern: '^[0-9]{1,4}$', examples: ['3'] },
    explain: { type: 'string', maxLength: 20, examples: ['gradcam'] },
    explainLayer: { type: 'string', maxLength: 200, examples: ['conv4_block2_out'] },
    explainClass: { type: 'string', maxLength: 10, examples: ['0'] },
  },
} as const;

/** The Grad-CAM explanation of one result (with explain=gradcam). */
const explanationSchema = {
  type: 'object',
  properties: {
    method: { type: 'string', enum: ['gradcam'] },
    layer: { type: 'string' },
    class: { type: 'integer' },
    label: { type: 'string' },
    map: {
      type: 'object',
      properties: {
        height: { type: 'integer' },
        width: { type: 'integer' },
        data: { type: 'array', items: { type: 'number' } },
      },
    },
    overlay: { type: 'string', description: 'data:image/png;base64,… the map blended over the image' },
  },
} as const;

const error = {
  type: 'object',
  additionalProperties: true,
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
};

export const classifyResponse = {
  200: {
    type: 'object',
    'x-examples': classifyResponseExamples,
    properties: {
      model: { type: 'string' },
      version: { type: 'integer', description: 'The version of the model that answered' },
      backend: { type: ['string', 'null'] },
      results: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            file: { type: 'string' },
            predictions: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  label: { type: 'string' },
                  index: { type: 'integer' },
                  probability: { type: 'number' },
                },
              },
            },
            explanation: explanationSchema,
          },
        },
      },
      timings: {
        type: 'object',
        properties: {
          decodeMs: { type: 'number' },
          queueMs: { type: 'number' },
          inferMs: { type: 'number' },
          explainMs: { type: 'number' },
        },
      },
    },
  },
  400: error,
  404: error,
  413: error,
  415: { ...error, 'x-examples': classifyErrorExamples[415] },
  503: error,
  504: error,
} as const;
