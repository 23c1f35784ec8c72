/**
 * add: out = inputs[0] + scale · inputs[1] (+ further inputs), from residual blocks and `branches`
 * with `merge: "add"`; Inception-ResNet scales its residual branch. Shapes must match exactly.
 */
import { SpecError } from '../../errors.js';
import type { KindDef } from './kind.js';
import { elements, fmt, noWeights, savesNothing, zero } from './shared.js';

export interface AddAttrs {
  scale: number;
}

export const add: KindDef<AddAttrs> = {
  summary: 'Element-wise sum of equally shaped inputs, the second one scaled (residual blocks).',
  stem: 'add',
  rule: {
    cost: 'zero',
    outputShape(inputs, _a, where) {
      const first = inputs[0];
      for (const other of inputs.slice(1)) {
        if (other.length !== first.length || other.some((d, i) => d !== first[i])) {
          throw new SpecError(
            where,
            `shortcut ${fmt(first)} + body ${fmt(other)}`,
            'matching shapes at the add (use a projection shortcut when the body changes the shape)',
            'SHAPE_MISMATCH',
          );
        }
      }
      return first;
    },
    weights: noWeights,
    macs: zero,
    elementOps: (inputs, out, a) => elements(out) * (inputs.length - 1) + (a.scale === 1 ? 0 : elements(out)),
    // The gradient passes through unchanged (times a constant scale).
    saves: savesNothing,
  },
  traits: {
    channelwise: false,
    mixesChannels: false,
    nonNegative: (a, inputs) => a.scale >= 0 && inputs.every(Boolean),
    arity: 'many',
  },
};
