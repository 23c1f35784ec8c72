/**
 * The PyTorch parity cases (test/fixtures/torch/parity, made by scripts/reference/torch_parity.py)
 * as specs whose layer names are torchvision's module paths, so the fixtures' state_dict keys bind.
 * Every engine's parity test runs all of them.
 */
import { ZOO } from '../../models/index.js';
import { bn, branches, conv, maxPool, relu, residual } from '../../models/layers.js';
import type { ArchitectureSpec, NodeSpec } from '../../src/spec/types.js';

const cbr = (c: string, b: string, filters: number, k: number, stride = 1): NodeSpec[] => [
  conv(c, filters, k, { strides: stride, padding: (k - 1) / 2, bias: false }),
  bn(b, 1e-5),
];

/** torchvision's BasicConv2d in GoogLeNet: conv (no bias) → BN(eps 1e-3) → ReLU. */
const unit = (p: string, filters: number, k: number): NodeSpec[] => [
  conv(`${p}_conv`, filters, k, { padding: (k - 1) / 2, bias: false }),
  bn(`${p}_bn`, 1e-3),
  relu(`${p}_relu`),
];

export interface ParityCase {
  /** Fixture name: `<name>.safetensors` (weights) and `<name>.io.safetensors` (input, output). */
  name: string;
  title: string;
  spec: () => ArchitectureSpec;
  /** The fixture holds logits: leave out any final softmax. */
  logits: boolean;
}

export const PARITY_CASES: ParityCase[] = [
  {
    name: 'identity_block',
    title: 'identity block (torchvision BasicBlock 16→16)',
    logits: false,
    spec: () => ({
      input: [8, 8, 16],
      layers: [
        residual('block', {
          body: [...cbr('conv1', 'bn1', 16, 3), relu('relu1'), ...cbr('conv2', 'bn2', 16, 3)],
          post: [relu('out')],
        }),
      ],
    }),
  },
  {
    name: 'downsample_block',
    title: 'downsample block (torchvision Bottleneck, stride 2 on the 3x3, projection)',
    logits: false,
    spec: () => ({
      input: [8, 8, 32],
      layers: [
        residual('block', {
          body: [
            ...cbr('conv1', 'bn1', 16, 1),
            relu('relu1'),
            ...cbr('conv2', 'bn2', 16, 3, 2),
            relu('relu2'),
            ...cbr('conv3', 'bn3', 64, 1),
          ],
          shortcut: { layers: cbr('downsample_0', 'downsample_1', 64, 1, 2) },
          post: [relu('out')],
        }),
      ],
    }),
  },
  {
    name: 'inception_module',
    title: 'inception module (torchvision Inception(192, 64, 96, 128, 16, 32, 32), ceil-mode pool)',
    logits: false,
    spec: () => ({
      input: [8, 8, 192],
      layers: [
        branches('inception', [
          { name: 'branch1', layers: unit('branch1', 64, 1) },
          { name: 'branch2', layers: [...unit('branch2_0', 96, 1), ...unit('branch2_1', 128, 3)] },
          { name: 'branch3', layers: [...unit('branch3_0', 16, 1), ...unit('branch3_1', 32, 3)] },
          {
            name: 'branch4',
            layers: [maxPool('branch4_0', 3, 1, 1, { ceilMode: true }), ...unit('branch4_1', 32, 1)],
          },
        ]),
      ],
    }),
  },
  {
    name: 'resnet18',
    title: 'whole torchvision resnet18 (random weights)',
    logits: true,
    spec: () => ZOO.get('resnet18')!.build(),
  },
];
