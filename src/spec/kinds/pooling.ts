/**
 * What max and average pooling share: attributes, reading, shape rule. Each kind has its own
 * descriptor (maxpool.ts, avgpool.ts) built from these.
 */
import { SpecError } from '../../errors.js';
import type { Padding, PaddingInput, Pair, SizeInput } from '../basics.js';
import type { Authoring, LayerRule, Named } from './kind.js';
import { bool, padding, pair, schema } from './read.js';
import { elements, featureMap, noWeights, windowOutput, zero } from './shared.js';

export interface PoolAttrs {
  pool: Pair;
  strides: Pair;
  padding: Padding;
  /** torchvision's ceil_mode: round the output size up (the last window may hang over the edge). */
  ceilMode: boolean;
  /** avgpool only: whether explicit zero padding counts in the divisor (PyTorch's default is true). */
  countIncludePad: boolean;
}

export interface PoolSpec<K extends 'maxpool' | 'avgpool' = 'maxpool' | 'avgpool'> extends Named {
  kind: K;
  pool: SizeInput;
  strides?: SizeInput;
  padding?: PaddingInput;
  ceilMode?: boolean;
  countIncludePad?: boolean;
}

export function poolAuthoring<K extends 'maxpool' | 'avgpool'>(
  example: PoolSpec<K>,
): Authoring<PoolAttrs, PoolSpec<K>> {
  return {
    properties: {
      pool: schema.size,
      strides: schema.size,
      padding: schema.padding,
      ceilMode: schema.boolean,
      countIncludePad: schema.boolean,
    },
    required: ['pool'],
    read(spec, at) {
      const size = pair(spec.pool, `${at}.pool`);
      const ceilMode = bool(spec.ceilMode, `${at}.ceilMode`, false);
      const pad = padding(spec.padding, `${at}.padding`, 'valid');
      if (ceilMode && pad.mode === 'same') {
        throw new SpecError(
          `${at}.ceilMode`,
          true,
          'false when padding is "same" (ceil mode applies to valid or explicit padding)',
        );
      }
      return {
        pool: size,
        strides: pair(spec.strides, `${at}.strides`, size),
        padding: pad,
        ceilMode,
        countIncludePad: bool(spec.countIncludePad, `${at}.countIncludePad`, false),
      };
    },
    example,
  };
}

/** The rule both poolings share; each adds what it keeps for the backward pass. */
export const poolRule: Omit<LayerRule<PoolAttrs>, 'saves'> = {
  cost: 'zero',
  outputShape(inputs, a, where) {
    const s = featureMap(inputs, where, 'pooling');
    const [h, w] = windowOutput(s, a.pool, a.strides, [1, 1], a.padding, a.ceilMode, where);
    return [h, w, s[2]];
  },
  weights: noWeights,
  macs: zero,
  // One compare or add per window element.
  elementOps: (_i, out, a) => elements(out) * a.pool[0] * a.pool[1],
  window: (a) => ({ kernel: a.pool, strides: a.strides, dilation: [1, 1] }),
};
