/**
 * EfficientNet-B0, Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural
 * Networks" (2019), in torchvision's layout and state_dict names (`efficientnet_b0_tv`). MBConv
 * blocks: a 1x1 expansion (skipped when the ratio is 1), a depthwise conv, squeeze-and-excitation
 * (SiLU inside, sigmoid gate, squeezed to a quarter of the block's *input* channels), a linear 1x1
 * projection, and the input added when the shapes agree. SiLU everywhere else. Padding is explicit
 * and symmetric, as PyTorch pads; BN epsilon 1e-5.
 * Differs from torchvision: stochastic depth is left out (the identity at inference).
 * A width or depth variant (B1–B7) is a row of multipliers; only B0 is listed. Input-size rule:
 * at least 32x32.
 */
import type { NodeSpec } from '../src/spec/types.js';
import { dense, dropout, globalAvgPool, residual, sequence } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';
import { convNormAct, makeDivisible, squeezeExcitation } from './torchvision_ops.js';

const EPS = 1e-5;

/** The paper's Table 1: expansion, kernel, first stride, input and output channels, repeats. */
const STAGES: [expand: number, k: number, stride: number, cin: number, cout: number, n: number][] = [
  [1, 3, 1, 32, 16, 1], // 112x112x16
  [6, 3, 2, 16, 24, 2], // 56x56x24
  [6, 5, 2, 24, 40, 2], // 28x28x40
  [6, 3, 2, 40, 80, 3], // 14x14x80
  [6, 5, 1, 80, 112, 3], // 14x14x112
  [6, 5, 2, 112, 192, 4], // 7x7x192
  [6, 3, 1, 192, 320, 1], // 7x7x320
];

function mbConv(p: string, cin: number, cout: number, expand: number, k: number, stride: number): NodeSpec {
  const b = `${p}_block`;
  const exp = makeDivisible(cin * expand);
  const layers: NodeSpec[] = [];
  let i = 0;
  if (exp !== cin) layers.push(...convNormAct(`${b}_${i++}`, exp, 1, { eps: EPS, activation: 'silu' }));
  layers.push(...convNormAct(`${b}_${i++}`, exp, k, { stride, groups: exp, eps: EPS, activation: 'silu' }));
  layers.push(squeezeExcitation(`${b}_${i++}`, exp, Math.max(1, Math.floor(cin / 4)), 'silu', 'sigmoid'));
  layers.push(...convNormAct(`${b}_${i++}`, cout, 1, { eps: EPS }));
  return stride === 1 && cin === cout
    ? residual(p, { body: layers, addName: `${p}_add` })
    : sequence(p, layers);
}

function build(o: ZooOptions = {}) {
  const stages = STAGES.map(([expand, k, stride, cin, cout, n], s) =>
    sequence(
      `features_${s + 1}`,
      Array.from({ length: n }, (_, i) =>
        mbConv(`features_${s + 1}_${i}`, i === 0 ? cin : cout, cout, expand, k, i === 0 ? stride : 1),
      ),
    ),
  );
  return {
    name: 'efficientnet_b0_tv',
    input: o.input ?? [224, 224, 3],
    layers: [
      ...convNormAct('features_0', 32, 3, { stride: 2, eps: EPS, activation: 'silu' }), // 112x112x32
      ...stages, // → 7x7x320
      ...convNormAct('features_8', 1280, 1, { eps: EPS, activation: 'silu' }), // 7x7x1280
      ...(o.includeTop === false
        ? []
        : [globalAvgPool('avgpool'), dropout('classifier_0', 0.2), dense('classifier_1', o.classes ?? 1000)]),
    ],
  };
}

export const efficientNets: ZooEntry[] = [
  {
    name: 'efficientnet_b0_tv',
    family: 'efficientnet',
    layout: 'torchvision',
    description: 'EfficientNet-B0, torchvision layout and state_dict names',
    reference: 'Tan & Le 2019 (arXiv:1905.11946); torchvision.models.efficientnet_b0',
    defaultInput: [224, 224, 3],
    defaultClasses: 1000,
    hasTop: true,
    build,
  },
];
