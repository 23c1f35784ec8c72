/**
 * batchnorm: inference-time batch normalisation over the channel axis,
 * y = γ·(x − mean)/√(var + ε) + β. The moving statistics are non-trainable weights.
 */
import type { KindDef, Named, WeightSpec } from './kind.js';
import { bool, finiteNumber, schema } from './read.js';
import { outputElements, passThrough, zero } from './shared.js';

export interface BatchNormAttrs {
  epsilon: number;
  center: boolean;
  scale: boolean;
}

export interface BatchNormSpec extends Named {
  kind: 'batchnorm';
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
}

export const batchnorm: KindDef<BatchNormAttrs, BatchNormSpec> = {
  summary: 'Batch normalisation with moving statistics (non-trainable), per channel.',
  stem: 'batch_normalization',
  authoring: {
    properties: { epsilon: { type: 'number', minimum: 0 }, center: schema.boolean, scale: schema.boolean },
    read: (spec, at) => ({
      // Keras' default epsilon; torchvision-layout specs set 1e-5 explicitly.
      epsilon: finiteNumber(spec.epsilon, `${at}.epsilon`, 1e-3, 0, 1),
      center: bool(spec.center, `${at}.center`, true),
      scale: bool(spec.scale, `${at}.scale`, true),
    }),
    example: { kind: 'batchnorm', epsilon: 1e-5 },
  },
  rule: {
    cost: 'zero',
    outputShape: passThrough,
    weights(inputs, a) {
      const c = [inputs[0][inputs[0].length - 1]];
      const w: WeightSpec[] = [];
      if (a.scale) w.push({ name: 'gamma', shape: c, trainable: true, torch: { name: 'weight' } });
      if (a.center) w.push({ name: 'beta', shape: c, trainable: true, torch: { name: 'bias' } });
      w.push(
        { name: 'moving_mean', shape: c, trainable: false, torch: { name: 'running_mean' } },
        { name: 'moving_variance', shape: c, trainable: false, torch: { name: 'running_var' } },
      );
      return w;
    },
    macs: zero,
    elementOps: outputElements,
    // Training-mode batch norm keeps its input and the batch's mean and inverse std per channel.
    saves: (inputs) => ({
      tensors: [{ input: 0 }],
      own: [
        {
          what: 'batch mean and inverse std',
          bytes: 2 * 4 * inputs[0][inputs[0].length - 1],
          perImage: false,
        },
      ],
    }),
  },
  traits: { channelwise: true, mixesChannels: false, nonNegative: () => false, arity: 'one' },
};
