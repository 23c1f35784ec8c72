/**
 * JSON Schema for the authoring spec: the first, structural check on the route (types, required
 * fields, no misspelt properties, known kinds). The second, semantic check is normalizeSpec plus
 * the shape pass. Registered once with `app.addSchema` and referenced as `ArchitectureSpec#`.
 */
import { ACTIVATION_FNS, AUTHORED_LEAF_KINDS, COMPOSITE_KINDS } from './types.js';

const posInt = { type: 'integer', minimum: 1 };
const size = { anyOf: [posInt, { type: 'array', items: posInt, minItems: 2, maxItems: 2 }] };
const nonNeg = { type: 'integer', minimum: 0 };
const explicitPadding = {
  anyOf: [
    nonNeg,
    { type: 'array', items: nonNeg, minItems: 2, maxItems: 2 },
    { type: 'array', items: { type: 'array', items: nonNeg, minItems: 2, maxItems: 2 }, minItems: 2, maxItems: 2 },
  ],
};
const padding = { anyOf: [{ type: 'string', enum: ['same', 'valid'] }, explicitPadding] };
const name = { type: 'string', minLength: 1, maxLength: 200 };
const layers = { type: 'array', items: { $ref: '#/definitions/node' } };

function leaf(properties: Record<string, unknown>, required: string[] = []) {
  return { type: 'object', additionalProperties: false, required: ['kind', ...required], properties: { kind: { type: 'string' }, name, ...properties } };
}

const pool = leaf({ pool: size, strides: size, padding, ceilMode: { type: 'boolean' }, countIncludePad: { type: 'boolean' } }, ['pool']);

const definitions: Record<string, unknown> = {
  conv2d: leaf({ filters: posInt, kernel: size, strides: size, padding, dilation: size, groups: posInt, bias: { type: 'boolean' } }, ['filters', 'kernel']),
  batchnorm: leaf({ epsilon: { type: 'number', minimum: 0 }, center: { type: 'boolean' }, scale: { type: 'boolean' } }),
  activation: leaf({ function: { type: 'string', enum: ACTIVATION_FNS } }, ['function']),
  zeropad: leaf({ padding: explicitPadding }, ['padding']),
  maxpool: pool,
  avgpool: pool,
  globalavgpool: leaf({}),
  globalmaxpool: leaf({}),
  flatten: leaf({}),
  dense: leaf({ units: posInt, bias: { type: 'boolean' }, activation: { type: 'string', enum: ACTIVATION_FNS } }, ['units']),
  dropout: leaf({ rate: { type: 'number', minimum: 0, exclusiveMaximum: 1 } }, ['rate']),
  sequence: leaf({ layers }, ['layers']),
  repeat: leaf({ count: { type: 'integer', minimum: 1, maximum: 10_000 }, layers }, ['count', 'layers']),
  residual: leaf({
    preact: layers,
    body: layers,
    shortcut: {
      anyOf: [
        { type: 'string', enum: ['identity'] },
        { type: 'object', additionalProperties: false, required: ['layers'], properties: { from: { type: 'string', enum: ['input', 'preact'] }, layers } },
      ],
    },
    scale: { type: 'number' },
    addName: name,
    post: layers,
  }, ['body']),
  branches: leaf({
    branches: { type: 'array', minItems: 1, items: { type: 'object', additionalProperties: false, required: ['layers'], properties: { name, layers } } },
  }, ['branches']),
};

const KINDS = [...AUTHORED_LEAF_KINDS, ...COMPOSITE_KINDS];

export const ARCHITECTURE_SPEC_SCHEMA = {
  $id: 'ArchitectureSpec',
  type: 'object',
  additionalProperties: false,
  required: ['input', 'layers'],
  properties: {
    name: { type: 'string', maxLength: 200 },
    input: { type: 'array', items: posInt, minItems: 3, maxItems: 3, description: '[height, width, channels] of one image' },
    layers: { ...layers, minItems: 1 },
  },
  definitions: {
    ...definitions,
    node: {
      type: 'object',
      required: ['kind'],
      properties: { kind: { type: 'string', enum: KINDS } },
      // Dispatch on kind so a bad conv reports the conv's problem, not every alternative's.
      allOf: KINDS.map((kind) => ({ if: { properties: { kind: { const: kind } } }, then: { $ref: `#/definitions/${kind}` } })),
    },
  },
} as const;
