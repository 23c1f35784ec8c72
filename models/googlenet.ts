/**
 * GoogLeNet (Inception v1), Szegedy et al., "Going Deeper with Convolutions" (2014), twice:
 *
 * - `googlenet`: as in the paper's Table 1, with real 5x5 branches, biases and ReLUs, no batch norm
 *   and no auxiliary heads; layer names follow the BVLC Caffe model (`inception_3a_5x5_reduce`).
 *   Differs from the paper: local response normalisation is left out (it has no parameters and
 *   no MACs, and no framework in our stack implements it).
 * - `googlenet_tv`: torchvision's GoogLeNet. Differs from the paper as torchvision does: a 3x3 conv in
 *   the "5x5" branch, batch norm (epsilon 1e-3) after every conv, no conv biases, ceil-mode pools;
 *   aux heads are left out (they only run in training).
 *
 * Input-size rule: 224x224 as published; anything from 32x32 up gives valid shapes.
 */
import type { NodeSpec, PaddingInput } from '../src/spec/types.js';
import { bn, branches, conv, dense, dropout, globalAvgPool, maxPool, relu } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';

/** Inception module widths, as in the paper's Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj. */
type Widths = [number, number, number, number, number, number];

/** Table 1 rows; the same widths serve both layouts. */
export const GOOGLENET_MODULES: Record<string, Widths> = {
  '3a': [64, 96, 128, 16, 32, 32], // 28x28x192 → 28x28x256
  '3b': [128, 128, 192, 32, 96, 64], // → 28x28x480
  '4a': [192, 96, 208, 16, 48, 64], // 14x14x480 → 14x14x512
  '4b': [160, 112, 224, 24, 64, 64],
  '4c': [128, 128, 256, 24, 64, 64],
  '4d': [112, 144, 288, 32, 64, 64], // → 14x14x528
  '4e': [256, 160, 320, 32, 128, 128], // → 14x14x832
  '5a': [256, 160, 320, 32, 128, 128], // 7x7x832 → 7x7x832
  '5b': [384, 192, 384, 48, 128, 128], // → 7x7x1024
};

// --- paper layout (Caffe names) -------------------------------------------------------------

const convRelu = (name: string, filters: number, k: number, strides = 1): NodeSpec[] => [
  conv(name, filters, k, { strides, padding: 'same' }),
  relu(`${name}_relu`),
];

/** The paper's inception module; `inception_3a` is the lecture's example. */
export function paperInception(id: string, w: Widths): NodeSpec {
  const p = `inception_${id}`;
  return branches(p, [
    { name: `${p}_branch1x1`, layers: convRelu(`${p}_1x1`, w[0], 1) },
    {
      name: `${p}_branch3x3`,
      layers: [...convRelu(`${p}_3x3_reduce`, w[1], 1), ...convRelu(`${p}_3x3`, w[2], 3)],
    },
    {
      name: `${p}_branch5x5`,
      layers: [...convRelu(`${p}_5x5_reduce`, w[3], 1), ...convRelu(`${p}_5x5`, w[4], 5)],
    },
    {
      name: `${p}_branch_pool`,
      layers: [maxPool(`${p}_pool`, 3, 1, 'same'), ...convRelu(`${p}_pool_proj`, w[5], 1)],
    },
  ]);
}

function buildPaper(options: ZooOptions = {}) {
  const m = (id: string) => paperInception(id, GOOGLENET_MODULES[id]);
  return {
    name: 'googlenet',
    input: options.input ?? [224, 224, 3],
    layers: [
      ...convRelu('conv1_7x7_s2', 64, 7, 2), // 112x112x64
      maxPool('pool1_3x3_s2', 3, 2, 'same'), // 56x56x64
      ...convRelu('conv2_3x3_reduce', 64, 1),
      ...convRelu('conv2_3x3', 192, 3), // 56x56x192
      maxPool('pool2_3x3_s2', 3, 2, 'same'), // 28x28x192
      m('3a'),
      m('3b'), // 28x28x480
      maxPool('pool3_3x3_s2', 3, 2, 'same'), // 14x14x480
      m('4a'),
      m('4b'),
      m('4c'),
      m('4d'),
      m('4e'), // 14x14x832
      maxPool('pool4_3x3_s2', 3, 2, 'same'), // 7x7x832
      m('5a'),
      m('5b'), // 7x7x1024
      ...(options.includeTop === false
        ? []
        : [
            globalAvgPool('pool5_7x7_s1'),
            dropout('pool5_drop_7x7_s1', 0.4),
            dense('loss3_classifier', options.classes ?? 1000, 'softmax'),
          ]),
    ],
  };
}

// --- torchvision layout ---------------------------------------------------------------------

/** torchvision's BasicConv2d: conv (no bias) → BN(eps 1e-3) → ReLU. */
const basicConv = (
  name: string,
  filters: number,
  k: number,
  options: { strides?: number; padding?: PaddingInput } = {},
): NodeSpec[] => [
  conv(`${name}_conv`, filters, k, {
    strides: options.strides ?? 1,
    padding: options.padding ?? 0,
    bias: false,
  }),
  bn(`${name}_bn`, 1e-3),
  relu(`${name}_relu`),
];

function tvInception(id: string, w: Widths): NodeSpec {
  const p = `inception${id}`;
  return branches(p, [
    { name: `${p}_branch1`, layers: basicConv(`${p}_branch1`, w[0], 1) },
    {
      name: `${p}_branch2`,
      layers: [
        ...basicConv(`${p}_branch2_0`, w[1], 1),
        ...basicConv(`${p}_branch2_1`, w[2], 3, { padding: 1 }),
      ],
    },
    // Differs from the paper (as torchvision does): 3x3 here where the paper has 5x5.
    {
      name: `${p}_branch3`,
      layers: [
        ...basicConv(`${p}_branch3_0`, w[3], 1),
        ...basicConv(`${p}_branch3_1`, w[4], 3, { padding: 1 }),
      ],
    },
    {
      name: `${p}_branch4`,
      layers: [
        maxPool(`${p}_branch4_0`, 3, 1, 1, { ceilMode: true }),
        ...basicConv(`${p}_branch4_1`, w[5], 1),
      ],
    },
  ]);
}

function buildTorchvision(options: ZooOptions = {}) {
  const m = (id: string) => tvInception(id, GOOGLENET_MODULES[id]);
  const pool = (name: string, k = 3) => maxPool(name, k, 2, 0, { ceilMode: true });
  return {
    name: 'googlenet_tv',
    input: options.input ?? [224, 224, 3],
    layers: [
      ...basicConv('conv1', 64, 7, { strides: 2, padding: 3 }), // 112x112x64
      pool('maxpool1'), // 56x56x64
      ...basicConv('conv2', 64, 1),
      ...basicConv('conv3', 192, 3, { padding: 1 }), // 56x56x192
      pool('maxpool2'), // 28x28x192
      m('3a'),
      m('3b'), // 28x28x480
      pool('maxpool3'), // 14x14x480
      m('4a'),
      m('4b'),
      m('4c'),
      m('4d'),
      m('4e'), // 14x14x832
      pool('maxpool4', 2), // 7x7x832
      m('5a'),
      m('5b'), // 7x7x1024
      ...(options.includeTop === false
        ? []
        : [globalAvgPool('avgpool'), dropout('dropout', 0.2), dense('fc', options.classes ?? 1000)]),
    ],
  };
}

const common = {
  family: 'inception',
  defaultInput: [224, 224, 3],
  defaultClasses: 1000,
  hasTop: true,
} as const;

export const googlenets: ZooEntry[] = [
  {
    ...common,
    name: 'googlenet',
    layout: 'paper',
    description: 'GoogLeNet (Inception v1) as in the paper: real 5x5 branches, no batch norm',
    reference: 'Szegedy et al. 2014 (arXiv:1409.4842), Table 1; BVLC Caffe layer names',
    build: buildPaper,
  },
  {
    ...common,
    name: 'googlenet_tv',
    layout: 'torchvision',
    description: "torchvision's GoogLeNet: 3x3 in the 5x5 branch, batch norm, ceil-mode pools, no aux heads",
    reference: 'Szegedy et al. 2014; torchvision.models.googlenet',
    build: buildTorchvision,
  },
];
