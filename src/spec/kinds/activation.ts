/** activation: an element-wise function (see ../activations.ts), 0 MACs and one element op per output. */
import {
  ACTIVATIONS,
  ACTIVATION_NAMES,
  ACTIVATION_PARAMS,
  isNonNegative,
  makeActivation,
  type Activation,
} from '../activations.js';
import type { KindDef, Named } from './kind.js';
import {
  noWeights,
  outputElements,
  passThrough,
  savesInput,
  savesNothing,
  savesOutput,
  zero,
} from './shared.js';

export interface ActivationSpec extends Named {
  kind: 'activation';
  function: string;
  alpha?: number;
  beta?: number;
  approximate?: boolean;
  min?: number;
  max?: number;
}

export const activation: KindDef<Activation, ActivationSpec> = {
  summary:
    'An element-wise activation function (relu, relu6, sigmoid, tanh, softmax, silu, hard_sigmoid, hard_swish, gelu, leaky_relu, elu, linear).',
  stem: 'activation',
  authoring: {
    properties: {
      function: { type: 'string', enum: ACTIVATION_NAMES },
      ...Object.fromEntries(
        ACTIVATION_PARAMS.map((p) => [p, p === 'approximate' ? { type: 'boolean' } : { type: 'number' }]),
      ),
    },
    required: ['function'],
    read: (spec, at) => makeActivation(spec.function, spec, at),
    example: { kind: 'activation', function: 'hard_swish' },
  },
  rule: {
    cost: 'zero',
    outputShape: passThrough,
    weights: noWeights,
    macs: zero,
    elementOps: outputElements,
    saves(_inputs, _output, a) {
      const reads = ACTIVATIONS[a.function].backwardReads;
      return reads === 'nothing' ? savesNothing() : reads === 'input' ? savesInput() : savesOutput();
    },
  },
  traits: { channelwise: true, mixesChannels: false, nonNegative: (a) => isNonNegative(a), arity: 'one' },
};
