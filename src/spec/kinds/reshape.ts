/**
 * reshape: the same elements in a new per-image shape, read and written in row-major H, W, C order
 * (Keras' Reshape). One size may be −1 (inferred). Engines hold a [C] vector or an [H, W, C] map,
 * so the target has one or three axes. Pure data movement.
 */
import { SpecError } from '../../errors.js';
import type { TensorShape } from '../basics.js';
import type { KindDef, Named } from './kind.js';
import { dataMovement, elements, fmt, noWeights, savesNothing, zero } from './shared.js';

export interface ReshapeAttrs {
  /** The target per-image shape as written; at most one −1. */
  shape: number[];
}

export interface ReshapeSpec extends Named {
  kind: 'reshape';
  shape: number[];
}

/** The target shape with a −1 resolved against `input`, or a SpecError naming the mismatch. */
export function resolveReshape(input: TensorShape, target: number[], where: string): TensorShape {
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = elements(input);
  const out = target.includes(-1) ? target.map((d) => (d === -1 ? total / known : d)) : target;
  if (out.some((d) => !Number.isInteger(d) || d < 1) || elements(out) !== total) {
    throw new SpecError(
      where,
      `${fmt(input)} (${total} elements) to ${fmt(target)}`,
      'a target shape with the same number of elements',
      'SHAPE_MISMATCH',
    );
  }
  return out;
}

export const reshape: KindDef<ReshapeAttrs, ReshapeSpec> = {
  summary:
    'The same elements in a new shape ([C] or [H, W, C]), in row-major H, W, C order; one size may be -1.',
  stem: 'reshape',
  authoring: {
    properties: {
      shape: { type: 'array', items: { type: 'integer', minimum: -1 }, minItems: 1, maxItems: 3 },
    },
    required: ['shape'],
    read(spec, at) {
      const shape = spec.shape;
      const ok =
        Array.isArray(shape) &&
        (shape.length === 1 || shape.length === 3) &&
        shape.every((d) => Number.isInteger(d) && (d === -1 || (d >= 1 && d <= 1e9))) &&
        shape.filter((d) => d === -1).length <= 1;
      if (!ok)
        throw new SpecError(
          `${at}.shape`,
          shape,
          '[C] or [H, W, C] of positive integers, with at most one -1',
        );
      return { shape: shape as number[] };
    },
    example: { kind: 'reshape', shape: [1, 1, -1] },
  },
  rule: {
    cost: 'zero',
    outputShape: (inputs, a, where) => resolveReshape(inputs[0], a.shape, where),
    weights: noWeights,
    macs: zero,
    elementOps: zero,
    saves: savesNothing,
  },
  traits: dataMovement(false),
};
