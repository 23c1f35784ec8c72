/**
 * MobileNetV3-Small, Howard et al., "Searching for MobileNetV3" (2019), in torchvision's layout and
 * state_dict names (`mobilenet_v3_small_tv`). Inverted residual blocks as MobileNetV2's, with
 * hard-swish or ReLU activations, 3x3 or 5x5 depthwise convs, and squeeze-and-excitation
 * (hard-sigmoid gate) in most blocks. Padding is explicit and symmetric, as PyTorch pads; BN
 * epsilon 1e-3 as torchvision sets it for this family. Input-size rule: at least 32x32.
 */
import type { ActivationFn, NodeSpec } from '../src/spec/types.js';
import { act, dense, dropout, globalAvgPool, residual, sequence } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';
import { convNormAct, makeDivisible, squeezeExcitation } from './torchvision_ops.js';

const EPS = 1e-3;

/** The paper's Table 2 (Small): input, kernel, expanded, output channels, SE, activation, stride. */
const BLOCKS: [
  cin: number,
  k: number,
  exp: number,
  cout: number,
  se: boolean,
  act: 'RE' | 'HS',
  stride: number,
][] = [
  [16, 3, 16, 16, true, 'RE', 2], // 56x56x16
  [16, 3, 72, 24, false, 'RE', 2], // 28x28x24
  [24, 3, 88, 24, false, 'RE', 1],
  [24, 5, 96, 40, true, 'HS', 2], // 14x14x40
  [40, 5, 240, 40, true, 'HS', 1],
  [40, 5, 240, 40, true, 'HS', 1],
  [40, 5, 120, 48, true, 'HS', 1], // 14x14x48
  [48, 5, 144, 48, true, 'HS', 1],
  [48, 5, 288, 96, true, 'HS', 2], // 7x7x96
  [96, 5, 576, 96, true, 'HS', 1],
  [96, 5, 576, 96, true, 'HS', 1],
];
const LAST_CONV = 576;
const LAST_CHANNEL = 1024;

function block(index: number, [cin, k, exp, cout, se, a, stride]: (typeof BLOCKS)[number]): NodeSpec {
  const p = `features_${index}_block`;
  const activation: ActivationFn = a === 'HS' ? 'hard_swish' : 'relu';
  const layers: NodeSpec[] = [];
  let i = 0;
  if (exp !== cin) layers.push(...convNormAct(`${p}_${i++}`, exp, 1, { eps: EPS, activation }));
  layers.push(...convNormAct(`${p}_${i++}`, exp, k, { stride, groups: exp, eps: EPS, activation }));
  if (se) layers.push(squeezeExcitation(`${p}_${i++}`, exp, makeDivisible(exp / 4), 'relu', 'hard_sigmoid'));
  layers.push(...convNormAct(`${p}_${i++}`, cout, 1, { eps: EPS }));
  const name = `features_${index}`;
  return stride === 1 && cin === cout
    ? residual(name, { body: layers, addName: `${name}_add` })
    : sequence(name, layers);
}

function build(o: ZooOptions = {}) {
  return {
    name: 'mobilenet_v3_small_tv',
    input: o.input ?? [224, 224, 3],
    layers: [
      ...convNormAct('features_0', 16, 3, { stride: 2, eps: EPS, activation: 'hard_swish' }), // 112x112x16
      ...BLOCKS.map((b, i) => block(i + 1, b)), // → 7x7x96
      ...convNormAct(`features_${BLOCKS.length + 1}`, LAST_CONV, 1, { eps: EPS, activation: 'hard_swish' }), // 7x7x576
      ...(o.includeTop === false
        ? []
        : [
            globalAvgPool('avgpool'),
            dense('classifier_0', LAST_CHANNEL),
            act('classifier_1', 'hard_swish'),
            dropout('classifier_2', 0.2),
            dense('classifier_3', o.classes ?? 1000),
          ]),
    ],
  };
}

export const mobileNetV3s: ZooEntry[] = [
  {
    name: 'mobilenet_v3_small_tv',
    family: 'mobilenet',
    layout: 'torchvision',
    description: 'MobileNetV3-Small, torchvision layout and state_dict names',
    reference: 'Howard et al. 2019 (arXiv:1905.02244); torchvision.models.mobilenet_v3_small',
    defaultInput: [224, 224, 3],
    defaultClasses: 1000,
    hasTop: true,
    build,
  },
];
