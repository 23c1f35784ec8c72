/** Schemas for POST /classify. The JSON form is checked in preValidation (multipart and raw bodies are not JSON). */
import { Ajv } from 'ajv';

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
    topk: { type: 'integer', minimum: 1, maximum: 1000 },
  },
} as const;

const ajv = new Ajv({ allErrors: false });
export const jsonBody = { schema: classifyJsonSchema, validate: ajv.compile(classifyJsonSchema) };

export const classifyQuery = {
  type: 'object',
  properties: {
    model: { type: 'string', maxLength: 200 },
    topk: { type: 'string', pattern: '^[0-9]{1,4}$' },
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
    properties: {
      model: { type: 'string' },
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
          },
        },
      },
      timings: {
        type: 'object',
        properties: {
          decodeMs: { type: 'number' },
          queueMs: { type: 'number' },
          inferMs: { type: 'number' },
        },
      },
    },
  },
  400: error,
  404: error,
  413: error,
  415: error,
  503: error,
  504: error,
} as const;
