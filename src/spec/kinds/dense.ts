/**
 * dense: a fully connected layer on a vector, kernel [in, out]; MACs = in·out, the bias is not a MAC.
 * Keras puts the classifier's softmax inside the Dense layer, so dense carries an activation.
 */
import { SpecError } from '../../errors.js';
import { ACTIVATIONS, ACTIVATION_NAMES, isNonNegative, type Activation } from '../activations.js';
import type { KindDef, Named, WeightSpec } from './kind.js';
import { activationName, bool, positiveInt, schema } from './read.js';
import { fmt } from './shared.js';

export interface DenseAttrs {
  units: number;
  bias: boolean;
  activation: Activation;
}

export interface DenseSpec extends Named {
  kind: 'dense';
  units: number;
  bias?: boolean;
  activation?: string;
}

export const dense: KindDef<DenseAttrs, DenseSpec> = {
  summary: 'A fully connected layer on a vector, with an optional activation.',
  stem: 'dense',
  authoring: {
    properties: {
      units: schema.posInt,
      bias: schema.boolean,
      activation: { type: 'string', enum: ACTIVATION_NAMES },
    },
    required: ['units'],
    read: (spec, at) => ({
      units: positiveInt(spec.units, `${at}.units`),
      bias: bool(spec.bias, `${at}.bias`, true),
      activation: activationName(spec.activation, at, 'activation', 'linear'),
    }),
    example: { kind: 'dense', units: 10, activation: 'softmax' },
  },
  rule: {
    cost: 'counted',
    outputShape(inputs, a, where) {
      if (inputs[0].length !== 1) {
        throw new SpecError(
          where,
          fmt(inputs[0]),
          'a flat input [features] to dense (add flatten or global pooling before it)',
          'SHAPE_MISMATCH',
        );
      }
      return [a.units];
    },
    weights(inputs, a) {
      const w: WeightSpec[] = [
        {
          name: 'kernel',
          shape: [inputs[0][0], a.units],
          trainable: true,
          torch: { name: 'weight', perm: [1, 0] },
        },
      ];
      if (a.bias) w.push({ name: 'bias', shape: [a.units], trainable: true, torch: { name: 'bias' } });
      return w;
    },
    macs: (inputs, _o, a) => inputs[0][0] * a.units,
    elementOps: (_i, out, a) => (a.bias ? out[0] : 0) + (a.activation.function === 'linear' ? 0 : out[0]),
    // The weight gradient reads the input. A fused activation keeps what the activation kind would:
    // its output, or its input, which here is a tensor of the layer's own (the pre-activation sum).
    saves(_inputs, output, a) {
      const reads = ACTIVATIONS[a.activation.function].backwardReads;
      if (reads === 'output') return { tensors: [{ input: 0 }, 'output'], own: [] };
      if (reads === 'nothing') return { tensors: [{ input: 0 }], own: [] };
      return {
        tensors: [{ input: 0 }],
        own: [{ what: 'pre-activation', bytes: 4 * output[0], perImage: true }],
      };
    },
  },
  traits: {
    channelwise: false,
    mixesChannels: true,
    nonNegative: (a) => isNonNegative(a.activation),
    arity: 'one',
  },
};
