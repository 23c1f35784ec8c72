/** zeropad: explicit zero padding of H and W (Keras ZeroPadding2D); pure data movement. */
import type { ExplicitPadding, PaddingInput } from '../basics.js';
import type { KindDef, Named } from './kind.js';
import { explicitPadding, schema } from './read.js';
import { dataMovement, featureMap, noWeights, savesNothing, zero } from './shared.js';

export interface ZeroPadAttrs {
  padding: ExplicitPadding;
}

export interface ZeroPadSpec extends Named {
  kind: 'zeropad';
  padding: Exclude<PaddingInput, 'same' | 'valid'>;
}

export const zeropad: KindDef<ZeroPadAttrs, ZeroPadSpec> = {
  summary: 'Zero padding of height and width.',
  stem: 'zero_padding2d',
  authoring: {
    properties: { padding: schema.explicitPadding },
    required: ['padding'],
    read: (spec, at) => ({ padding: explicitPadding(spec.padding, `${at}.padding`) }),
    example: {
      kind: 'zeropad',
      padding: [
        [0, 1],
        [0, 1],
      ],
    },
  },
  rule: {
    cost: 'zero',
    outputShape(inputs, a, where) {
      const s = featureMap(inputs, where, 'zero padding');
      const p = a.padding;
      return [s[0] + p.top + p.bottom, s[1] + p.left + p.right, s[2]];
    },
    weights: noWeights,
    macs: zero,
    elementOps: zero,
    saves: savesNothing,
    window: () => ({ kernel: [1, 1], strides: [1, 1], dilation: [1, 1] }),
  },
  traits: dataMovement(true),
};
