/**
 * The two default models, trained on Fashion-MNIST (28x28x1, 10 classes) by
 * scripts/training/train_fashion.py, which builds the same layers in PyTorch and exports weights
 * under these names. Padding is explicit and symmetric, as PyTorch pads, so the served model
 * computes what was trained. BN epsilon is PyTorch's 1e-5.
 */
import type { NodeSpec } from '../src/spec/types.js';
import { bn, branches, conv, dense, dropout, globalAvgPool, maxPool, relu, residual } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';

const EPS = 1e-5;
const conv3 = (name: string, filters: number, stride = 1) =>
  conv(name, filters, 3, { strides: stride, padding: 1, bias: false });

/** Post-activation basic block (He et al. 2015); projection shortcut when it changes shape. */
function basicBlock(name: string, filters: number, stride: number, project: boolean): NodeSpec {
  return residual(name, {
    body: [
      conv3(`${name}_1_conv`, filters, stride),
      bn(`${name}_1_bn`, EPS),
      relu(`${name}_1_relu`),
      conv3(`${name}_2_conv`, filters),
      bn(`${name}_2_bn`, EPS),
    ],
    shortcut: project
      ? {
          layers: [
            conv(`${name}_0_conv`, filters, 1, { strides: stride, bias: false }),
            bn(`${name}_0_bn`, EPS),
          ],
        }
      : 'identity',
    addName: `${name}_add`,
    post: [relu(`${name}_out`)],
  });
}

function fashionResnet(o: ZooOptions = {}) {
  return {
    name: 'fashion_resnet',
    input: o.input ?? [28, 28, 1],
    layers: [
      conv3('conv1_conv', 32),
      bn('conv1_bn', EPS),
      relu('conv1_relu'), // 28x28x32
      basicBlock('conv2_block1', 32, 1, false), // 28x28x32, identity
      basicBlock('conv3_block1', 64, 2, true), // 14x14x64, projection
      basicBlock('conv3_block2', 64, 1, false),
      basicBlock('conv4_block1', 128, 2, true), // 7x7x128, projection
      basicBlock('conv4_block2', 128, 1, false),
      ...(o.includeTop === false
        ? []
        : [globalAvgPool('avg_pool'), dense('predictions', o.classes ?? 10, 'softmax')]),
    ],
  };
}

/** conv (no bias) → BN → ReLU, named U_conv, U_bn, U_relu. */
const unit = (name: string, filters: number, k: number, stride = 1): NodeSpec[] => [
  conv(`${name}_conv`, filters, k, { strides: stride, padding: (k - 1) / 2, bias: false }),
  bn(`${name}_bn`, EPS),
  relu(`${name}_relu`),
];

/** Widths: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection (GoogLeNet's Table 1 columns). */
type Widths = [number, number, number, number, number, number];

function module(name: string, w: Widths): NodeSpec {
  return branches(name, [
    { name: `${name}_branch1`, layers: unit(`${name}_b1`, w[0], 1) },
    {
      name: `${name}_branch2`,
      layers: [...unit(`${name}_b2_reduce`, w[1], 1), ...unit(`${name}_b2`, w[2], 3)],
    },
    {
      name: `${name}_branch3`,
      layers: [...unit(`${name}_b3_reduce`, w[3], 1), ...unit(`${name}_b3`, w[4], 5)],
    },
    {
      name: `${name}_branch4`,
      layers: [maxPool(`${name}_b4_pool`, 3, 1, 1), ...unit(`${name}_b4`, w[5], 1)],
    },
  ]);
}

function fashionInception(o: ZooOptions = {}) {
  return {
    name: 'fashion_inception',
    input: o.input ?? [28, 28, 1],
    layers: [
      ...unit('conv1', 32, 3), // 28x28x32
      ...unit('conv2', 64, 3, 2), // 14x14x64
      module('mixed1', [32, 32, 48, 8, 16, 16]), // 14x14x112
      module('mixed2', [48, 48, 64, 12, 24, 24]), // 14x14x160
      maxPool('pool2', 3, 2, 1), // 7x7x160
      module('mixed3', [64, 64, 96, 16, 32, 32]), // 7x7x224
      module('mixed4', [96, 64, 128, 16, 32, 32]), // 7x7x288
      ...(o.includeTop === false
        ? []
        : [
            globalAvgPool('avg_pool'),
            dropout('dropout', 0.2),
            dense('predictions', o.classes ?? 10, 'softmax'),
          ]),
    ],
  };
}

const common = {
  defaultInput: [28, 28, 1],
  defaultClasses: 10,
  hasTop: true,
  layout: 'default-model',
} as const;

export const fashionModels: ZooEntry[] = [
  {
    ...common,
    name: 'fashion_resnet',
    family: 'resnet',
    description:
      'Small ResNet (identity and projection basic blocks) trained on Fashion-MNIST; the default model',
    reference: 'He et al. 2015; scripts/training/train_fashion.py',
    build: fashionResnet,
  },
  {
    ...common,
    name: 'fashion_inception',
    family: 'inception',
    description: 'Small Inception network with 1x1 bottlenecks, trained on Fashion-MNIST',
    reference: 'Szegedy et al. 2014; scripts/training/train_fashion.py',
    build: fashionInception,
  },
];
