// biome-ignore-all lint/suspicious/noThenProperty: `then` here is JSON Schema's if/then keyword, not a thenable
/**
 * JSON Schema for the authoring spec: the first, structural check on the route (types, required
 * fields, no misspelt properties, known kinds; compiled with Ajv's `discriminator: true`). The second, semantic check is normalizeSpec plus
 * the shape pass. Leaf definitions come from the kind descriptors. Registered once with
 * `app.addSchema` and referenced as `ArchitectureSpec#`.
 */
import { COMPOSITE_KINDS } from './authoring.js';
import { AUTHORED_LEAF_KINDS, KINDS } from './kinds/index.js';
import { defined } from '../invariant.js';

const posInt = { type: 'integer', minimum: 1 };
const name = { type: 'string', minLength: 1, maxLength: 200 };
const layers = { type: 'array', items: { $ref: '#/definitions/node' } };

/** A node of one kind: `kind` is that kind's name, the discriminator `node` dispatches on. */
function leaf(kind: string, properties: Record<string, unknown>, required: string[] = []) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['kind', ...required],
    properties: { kind: { const: kind }, name, ...properties },
  };
}

const leafDefinitions = Object.fromEntries(
  AUTHORED_LEAF_KINDS.map((kind) => {
    const authoring = defined(KINDS[kind].authoring, `${kind}'s authoring reader`);
    return [kind, leaf(kind, authoring.properties, authoring.required)];
  }),
);

const compositeDefinitions = {
  sequence: leaf('sequence', { layers }, ['layers']),
  repeat: leaf('repeat', { count: { type: 'integer', minimum: 1, maximum: 10_000 }, layers }, [
    'count',
    'layers',
  ]),
  residual: leaf(
    'residual',
    {
      preact: layers,
      body: layers,
      shortcut: {
        anyOf: [
          { type: 'string', enum: ['identity'] },
          {
            type: 'object',
            additionalProperties: false,
            required: ['layers'],
            properties: { from: { type: 'string', enum: ['input', 'preact'] }, layers },
          },
        ],
      },
      scale: { type: 'number' },
      addName: name,
      post: layers,
    },
    ['body'],
  ),
  branches: leaf(
    'branches',
    {
      branches: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['layers'],
          properties: { name, layers },
        },
      },
      merge: { type: 'string', enum: ['concat', 'add', 'multiply'] },
    },
    ['branches'],
  ),
} satisfies Record<(typeof COMPOSITE_KINDS)[number], unknown>;

const ALL_KINDS = [...AUTHORED_LEAF_KINDS, ...COMPOSITE_KINDS];

export const ARCHITECTURE_SPEC_SCHEMA = {
  $id: 'ArchitectureSpec',
  type: 'object',
  additionalProperties: false,
  required: ['input', 'layers'],
  properties: {
    name: { type: 'string', maxLength: 200 },
    input: {
      type: 'array',
      items: posInt,
      minItems: 3,
      maxItems: 3,
      description: '[height, width, channels] of one image',
    },
    layers: { ...layers, minItems: 1 },
  },
  definitions: {
    ...leafDefinitions,
    ...compositeDefinitions,
    node: {
      type: 'object',
      required: ['kind'],
      properties: { kind: { type: 'string', enum: ALL_KINDS } },
      // Dispatch on kind so a bad conv reports the conv's problem, not every alternative's. The
      // discriminator (Ajv's `discriminator: true`, OpenAPI's keyword) goes straight to the kind's
      // schema; the if/then per kind it replaced tried every kind on every node (2.8 -> 0.9 ms for
      // ResNet-152's spec, on the event loop of every POST /analyze with a spec).
      discriminator: { propertyName: 'kind' },
      oneOf: ALL_KINDS.map((kind) => ({ $ref: `#/definitions/${kind}` })),
    },
  },
} as const;
