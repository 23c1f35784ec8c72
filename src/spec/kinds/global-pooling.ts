/** What global average and max pooling share: `keepdims` and the rule (one element op per input element). */
import type { Authoring, LayerRule, Named } from './kind.js';
import { bool, schema } from './read.js';
import { elements, featureMap, noWeights, zero } from './shared.js';

export interface GlobalPoolAttrs {
  /** Keep H and W as 1x1 ([1, 1, C], Keras keepdims / PyTorch AdaptiveAvgPool2d(1)) instead of [C]. */
  keepdims: boolean;
}

export interface GlobalPoolSpec<K extends 'globalavgpool' | 'globalmaxpool'> extends Named {
  kind: K;
  keepdims?: boolean;
}

export function globalPoolAuthoring<K extends 'globalavgpool' | 'globalmaxpool'>(
  example: GlobalPoolSpec<K>,
): Authoring<GlobalPoolAttrs, GlobalPoolSpec<K>> {
  return {
    properties: { keepdims: schema.boolean },
    read: (spec, at) => ({ keepdims: bool(spec.keepdims, `${at}.keepdims`, false) }),
    example,
  };
}

/** The rule both global poolings share; each adds what it keeps for the backward pass. */
export const globalPoolRule: Omit<LayerRule<GlobalPoolAttrs>, 'saves'> = {
  cost: 'zero',
  outputShape(inputs, a, where) {
    const c = featureMap(inputs, where, 'global pooling')[2];
    return a.keepdims ? [1, 1, c] : [c];
  },
  weights: noWeights,
  macs: zero,
  elementOps: (inputs) => elements(inputs[0]),
  window: (_a, inputs) => ({
    kernel: [inputs[0][0], inputs[0][1]],
    strides: [inputs[0][0], inputs[0][1]],
    dilation: [1, 1],
  }),
};
