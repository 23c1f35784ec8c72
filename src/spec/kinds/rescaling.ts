/**
 * rescaling: y = x·scale + offset (Keras' Rescaling), with scale and offset one number each or one
 * per channel. No weights; one element op per output element.
 */
import type { KindDef, Named } from './kind.js';
import { numbers, schema } from './read.js';
import { noWeights, outputElements, perChannel, savesNothing, zero } from './shared.js';

export interface RescalingAttrs {
  scale: number[];
  offset: number[];
}

export interface RescalingSpec extends Named {
  kind: 'rescaling';
  scale: number | number[];
  offset?: number | number[];
}

export const rescaling: KindDef<RescalingAttrs, RescalingSpec> = {
  summary: 'y = x·scale + offset, each one number or one per channel (input scaling inside the model).',
  stem: 'rescaling',
  authoring: {
    properties: { scale: schema.numbers, offset: schema.numbers },
    required: ['scale'],
    read: (spec, at) => ({
      scale: numbers(spec.scale, `${at}.scale`, [1]),
      offset: numbers(spec.offset, `${at}.offset`, [0]),
    }),
    example: { kind: 'rescaling', scale: 1 / 127.5, offset: -1 },
  },
  rule: {
    cost: 'zero',
    outputShape(inputs, a, where) {
      perChannel(a.scale, inputs, where, 'scale');
      perChannel(a.offset, inputs, where, 'offset');
      return inputs[0];
    },
    weights: noWeights,
    macs: zero,
    elementOps: outputElements,
    // A multiply and an add by constants: the gradient needs no forward tensor.
    saves: savesNothing,
  },
  traits: {
    channelwise: true,
    mixesChannels: false,
    nonNegative: (a, inputs) => inputs[0] && a.scale.every((s) => s >= 0) && a.offset.every((o) => o >= 0),
    arity: 'one',
  },
};
