/** concat: concatenation on the channel axis, from `branches` (inception modules); pure data movement. */
import { SpecError } from '../../errors.js';
import type { KindDef } from './kind.js';
import { fmt, noWeights, savesNothing, zero } from './shared.js';

export type ConcatAttrs = Record<string, never>;

export const concat: KindDef<ConcatAttrs> = {
  summary: 'Concatenation of the branches on the channel axis (inception modules).',
  stem: 'concatenate',
  rule: {
    cost: 'zero',
    outputShape(inputs, _a, where) {
      const first = inputs[0];
      for (const other of inputs.slice(1)) {
        if (other.length !== first.length || other.slice(0, -1).some((d, i) => d !== first[i])) {
          throw new SpecError(
            where,
            inputs.map(fmt).join(' ++ '),
            'branch outputs with the same height and width',
            'SHAPE_MISMATCH',
          );
        }
      }
      const channels = inputs.reduce((sum, s) => sum + s[s.length - 1], 0);
      return [...first.slice(0, -1), channels];
    },
    weights: noWeights,
    macs: zero,
    elementOps: zero,
    saves: savesNothing,
  },
  traits: {
    channelwise: false,
    mixesChannels: false,
    nonNegative: (_a, inputs) => inputs.every(Boolean),
    arity: 'many',
  },
};
