/**
 * conv2d: a 2-D convolution, grouped when `groups` > 1; depthwise when groups equals the input
 * channels (filters = channels · depth multiplier). Kernel HWIO [kh, kw, Cin/groups, Cout].
 * MACs = Hout·Wout·Cout·(Cin/groups)·kh·kw per image; the bias is not a MAC.
 */
import { SpecError } from '../../errors.js';
import type { Padding, PaddingInput, Pair, SizeInput } from '../basics.js';
import type { KindDef, Named, WeightSpec } from './kind.js';
import { bool, pair, padding, positiveInt, schema } from './read.js';
import { elements, featureMap, savesInput, windowOutput } from './shared.js';

export interface Conv2dAttrs {
  filters: number;
  kernel: Pair;
  strides: Pair;
  padding: Padding;
  dilation: Pair;
  groups: number;
  bias: boolean;
}

export interface Conv2dSpec extends Named {
  kind: 'conv2d';
  filters: number;
  kernel: SizeInput;
  strides?: SizeInput;
  padding?: PaddingInput;
  dilation?: SizeInput;
  groups?: number;
  bias?: boolean;
}

/** OIHW (PyTorch) → HWIO (ours). */
const FROM_OIHW = [2, 3, 1, 0];

export const conv2d: KindDef<Conv2dAttrs, Conv2dSpec> = {
  summary: 'A 2-D convolution; grouped with `groups`, depthwise when groups equals the input channels.',
  stem: 'conv2d',
  authoring: {
    properties: {
      filters: schema.posInt,
      kernel: schema.size,
      strides: schema.size,
      padding: schema.padding,
      dilation: schema.size,
      groups: schema.posInt,
      bias: schema.boolean,
    },
    required: ['filters', 'kernel'],
    read(spec, at) {
      const filters = positiveInt(spec.filters, `${at}.filters`);
      const groups = spec.groups === undefined ? 1 : positiveInt(spec.groups, `${at}.groups`);
      if (filters % groups !== 0)
        throw new SpecError(`${at}.groups`, groups, `a divisor of filters (${filters})`);
      return {
        filters,
        kernel: pair(spec.kernel, `${at}.kernel`, undefined, 1024),
        strides: pair(spec.strides, `${at}.strides`, [1, 1], 1024),
        padding: padding(spec.padding, `${at}.padding`, 'valid'),
        dilation: pair(spec.dilation, `${at}.dilation`, [1, 1], 1024),
        groups,
        bias: bool(spec.bias, `${at}.bias`, true),
      };
    },
    example: { kind: 'conv2d', filters: 32, kernel: 3, strides: 1, padding: 'same', bias: false },
  },
  rule: {
    cost: 'counted',
    outputShape(inputs, a, where) {
      const s = featureMap(inputs, where, 'conv2d');
      if (s[2] % a.groups !== 0) {
        throw new SpecError(
          where,
          `${s[2]} input channels`,
          `input channels divisible by groups (${a.groups})`,
          'SHAPE_MISMATCH',
        );
      }
      const [h, w] = windowOutput(s, a.kernel, a.strides, a.dilation, a.padding, false, where);
      return [h, w, a.filters];
    },
    weights(inputs, a) {
      const cin = inputs[0][2];
      const perGroup = cin / a.groups;
      const kernel: WeightSpec = {
        name: 'kernel',
        shape: [a.kernel[0], a.kernel[1], perGroup, a.filters],
        trainable: true,
        torch: { name: 'weight', perm: FROM_OIHW },
      };
      // Keras stores a depthwise kernel as [kh, kw, C, multiplier]: the same elements in the same order.
      if (a.groups === cin && a.groups > 1)
        kernel.kerasAliases = [
          { name: 'depthwise_kernel', shape: [a.kernel[0], a.kernel[1], cin, a.filters / cin] },
        ];
      const w = [kernel];
      if (a.bias) w.push({ name: 'bias', shape: [a.filters], trainable: true, torch: { name: 'bias' } });
      return w;
    },
    macs: (inputs, out, a) =>
      out[0] * out[1] * out[2] * (inputs[0][2] / a.groups) * a.kernel[0] * a.kernel[1],
    elementOps: (_i, out, a) => (a.bias ? elements(out) : 0),
    // The weight gradient reads the input; the input gradient reads the weights (parameters, not counted).
    saves: savesInput,
    window: (a) => ({ kernel: a.kernel, strides: a.strides, dilation: a.dilation }),
  },
  traits: { channelwise: false, mixesChannels: true, nonNegative: () => false, arity: 'one' },
};
