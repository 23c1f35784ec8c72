/**
 * torchvision.ops.misc's building blocks as spec fragments, with torchvision's module names
 * ("." → "_"), so a torchvision state_dict binds to the layers they make.
 */
import type { ActivationFn, NodeSpec } from '../src/spec/types.js';
import { act, bn, branches, conv, globalAvgPool } from './layers.js';

export interface ConvNormActOptions {
  stride?: number;
  groups?: number;
  /** Omitted: no activation (Conv2dNormActivation(activation_layer=None)). */
  activation?: ActivationFn;
  /** Batch-norm epsilon (torchvision's BatchNorm2d default 1e-5; MobileNetV3 uses 1e-3). */
  eps: number;
}

/**
 * Conv2dNormActivation: conv `<p>_0` (no bias, symmetric padding (k−1)/2), batch norm `<p>_1`,
 * activation `<p>_2`.
 */
export function convNormAct(p: string, filters: number, kernel: number, o: ConvNormActOptions): NodeSpec[] {
  const layers: NodeSpec[] = [
    conv(`${p}_0`, filters, kernel, {
      strides: o.stride ?? 1,
      padding: (kernel - 1) / 2,
      groups: o.groups ?? 1,
      bias: false,
    }),
    bn(`${p}_1`, o.eps),
  ];
  if (o.activation) layers.push(act(`${p}_2`, o.activation));
  return layers;
}

/**
 * SqueezeExcitation (Hu et al. 2018): the input times per-channel scales computed from its global
 * average: avgpool → fc1 (1x1 conv) → activation → fc2 (1x1 conv) → scale_activation. Written as
 * `branches` merged by multiplication, one branch being the input itself. The product is `<p>`.
 */
export function squeezeExcitation(
  p: string,
  channels: number,
  squeeze: number,
  activation: ActivationFn,
  scaleActivation: ActivationFn,
): NodeSpec {
  return branches(
    p,
    [
      { name: `${p}_input`, layers: [] },
      {
        name: `${p}_scale`,
        layers: [
          globalAvgPool(`${p}_avgpool`, true), // 1x1xC
          conv(`${p}_fc1`, squeeze, 1),
          act(`${p}_activation`, activation),
          conv(`${p}_fc2`, channels, 1),
          act(`${p}_scale_activation`, scaleActivation),
        ],
      },
    ],
    'multiply',
  );
}

/** torchvision's _make_divisible: the nearest multiple of `divisor`, never more than 10% below `v`. */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let out = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}
