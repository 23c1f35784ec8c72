/**
 * multiply: the element-wise product of its inputs, with broadcasting over axes of size 1 between
 * inputs of the same rank (the per-channel scale [1, 1, C] of a squeeze-and-excitation block times
 * its [H, W, C] input). From `branches` with `merge: "multiply"` and from Keras' Multiply.
 * One element op per output element and extra input; 0 MACs.
 */
import { SpecError } from '../../errors.js';
import type { KindDef } from './kind.js';
import { elements, fmt, noWeights, zero } from './shared.js';

export type MultiplyAttrs = Record<string, never>;

/** The broadcast shape of equally ranked shapes (each axis equal, or 1), or undefined if there is none. */
export function broadcastShape(shapes: number[][]): number[] | undefined {
  const rank = shapes[0].length;
  if (shapes.some((s) => s.length !== rank)) return undefined;
  const out: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    const sizes = new Set(shapes.map((s) => s[axis]).filter((d) => d !== 1));
    if (sizes.size > 1) return undefined;
    out.push(sizes.size ? [...sizes][0] : 1);
  }
  return out;
}

export const multiply: KindDef<MultiplyAttrs> = {
  summary: 'Element-wise product, broadcasting axes of size 1 (squeeze-and-excitation scaling).',
  stem: 'multiply',
  rule: {
    cost: 'zero',
    outputShape(inputs, _a, where) {
      const out = broadcastShape(inputs);
      if (!out) {
        throw new SpecError(
          where,
          inputs.map(fmt).join(' × '),
          'inputs of the same rank whose sizes are equal or 1 on every axis (e.g. [H, W, C] × [1, 1, C])',
          'SHAPE_MISMATCH',
        );
      }
      return out;
    },
    weights: noWeights,
    macs: zero,
    elementOps: (inputs, out) => elements(out) * (inputs.length - 1),
    // Each factor's gradient is the product of the others: every input is kept.
    saves: (inputs) => ({ tensors: inputs.map((_s, input) => ({ input })), own: [] }),
  },
  traits: {
    channelwise: false,
    mixesChannels: false,
    nonNegative: (_a, inputs) => inputs.every(Boolean),
    arity: 'many',
  },
};
