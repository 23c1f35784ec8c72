/**
 * normalization: y = (x − mean) / max(√variance, ε) per channel (Keras' Normalization, ε = 1e-7).
 * Mean and variance are non-trainable weights (with Keras' `count`, one element), or constants
 * given in the spec, which then has no weights.
 */
import { SpecError } from '../../errors.js';
import type { KindDef, Named, WeightSpec } from './kind.js';
import { numbers, schema } from './read.js';
import { outputElements, passThrough, perChannel, savesNothing, zero } from './shared.js';

export interface NormalizationAttrs {
  /** Constants; absent when they are weights. */
  mean?: number[];
  variance?: number[];
  epsilon: number;
}

export interface NormalizationSpec extends Named {
  kind: 'normalization';
  mean?: number | number[];
  variance?: number | number[];
}

/** Keras' backend epsilon, the floor of the divisor. */
export const NORMALIZATION_EPSILON = 1e-7;

export const normalization: KindDef<NormalizationAttrs, NormalizationSpec> = {
  summary:
    'Per-channel (x - mean) / sqrt(variance), mean and variance as non-trainable weights or constants.',
  stem: 'normalization',
  authoring: {
    properties: { mean: schema.numbers, variance: schema.numbers },
    read(spec, at) {
      if ((spec.mean === undefined) !== (spec.variance === undefined)) {
        const missing = spec.mean === undefined ? 'mean' : 'variance';
        throw new SpecError(
          `${at}.${missing}`,
          undefined,
          'mean and variance given together (constants), or neither (weights)',
        );
      }
      if (spec.mean === undefined) return { epsilon: NORMALIZATION_EPSILON };
      const variance = numbers(spec.variance, `${at}.variance`, []);
      if (variance.some((v) => v < 0))
        throw new SpecError(`${at}.variance`, spec.variance, 'variances of 0 or more');
      return { mean: numbers(spec.mean, `${at}.mean`, []), variance, epsilon: NORMALIZATION_EPSILON };
    },
    example: { kind: 'normalization', mean: [0.485, 0.456, 0.406], variance: [0.052, 0.05, 0.051] },
  },
  rule: {
    cost: 'zero',
    outputShape(inputs, a, where) {
      if (a.mean) perChannel(a.mean, inputs, where, 'mean');
      if (a.variance) perChannel(a.variance, inputs, where, 'variance');
      return passThrough(inputs);
    },
    weights(inputs, a): WeightSpec[] {
      if (a.mean) return [];
      const c = [inputs[0][inputs[0].length - 1]];
      return [
        { name: 'mean', shape: c, trainable: false },
        { name: 'variance', shape: c, trainable: false },
        { name: 'count', shape: [], trainable: false },
      ];
    },
    macs: zero,
    elementOps: outputElements,
    // A subtract and a divide by constants: the gradient needs no forward tensor.
    saves: savesNothing,
  },
  traits: { channelwise: true, mixesChannels: false, nonNegative: () => false, arity: 'one' },
};
