/**
 * Inception-ResNet v2 in the Keras Applications layout and layer names, so that Keras ImageNet
 * weights load by name.
 *
 * Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
 * Learning" (2016, arXiv:1602.07261); keras.applications.inception_resnet_v2. Keras' conv2d_bn
 * names its layers `<name>`, `<name>_bn`, `<name>_ac` when given a name and leaves them auto-named
 * (`conv2d_1`, `batch_normalization_1`, `activation_1`, …) otherwise; we count the auto names per
 * model, in Keras' creation order.
 *
 * Input-size rule: at least 75x75 (Keras' min_size); the default is 299x299.
 *
 * Differs from the paper, as Keras (after TF-slim) does: the stem is Inception v3's plus a 35x35
 * Inception-A module (mixed_5b), the residual branches are scaled (0.17 / 0.1 / 0.2), and there is
 * no auxiliary classifier.
 */
import { SpecError } from '../src/errors.js';
import type { BatchNormSpec, NodeSpec, PaddingInput, Shape3, SizeInput } from '../src/spec/types.js';
import {
  avgPool,
  branches,
  conv,
  dense,
  globalAvgPool,
  KerasAutoNames,
  maxPool,
  relu,
  residual,
} from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';

const MIN_SIDE = 75;

/** BatchNormalization(axis=3, scale=False): Keras' default epsilon 1e-3, no gamma (a ReLU follows). */
const bnNoScale = (name: string): BatchNormSpec => ({ kind: 'batchnorm', name, epsilon: 1e-3, scale: false });

interface ConvBnOptions {
  strides?: SizeInput;
  padding?: PaddingInput;
  /** Keras' name argument; omitted, all three layers are auto-named. */
  name?: string;
}

/** Keras' conv2d_bn with its defaults (use_bias=False, activation='relu'): conv → BN → ReLU. */
function convBn(
  n: KerasAutoNames,
  filters: number,
  kernel: SizeInput,
  { strides = 1, padding = 'same', name }: ConvBnOptions = {},
): NodeSpec[] {
  return [
    conv(name ?? n.next('conv2d'), filters, kernel, { strides, padding, bias: false }),
    bnNoScale(name ? `${name}_bn` : n.next('batch_normalization')),
    relu(name ? `${name}_ac` : n.next('activation')),
  ];
}

type BlockType = 'block35' | 'block17' | 'block8';

/** Branches of each Inception-ResNet block type, in Keras' creation (and concat) order. */
const BLOCK_BRANCHES: Record<BlockType, (n: KerasAutoNames) => NodeSpec[][]> = {
  // Inception-ResNet-A, 35x35: 1x1 | 1x1→3x3 | 1x1→3x3→3x3. Mixed: 32 + 32 + 64 = 128.
  block35: (n) => [
    convBn(n, 32, 1),
    [...convBn(n, 32, 1), ...convBn(n, 32, 3)],
    [...convBn(n, 32, 1), ...convBn(n, 48, 3), ...convBn(n, 64, 3)],
  ],
  // Inception-ResNet-B, 17x17: 1x1 | 1x1→1x7→7x1. Mixed: 192 + 192 = 384.
  block17: (n) => [
    convBn(n, 192, 1),
    [...convBn(n, 128, 1), ...convBn(n, 160, [1, 7]), ...convBn(n, 192, [7, 1])],
  ],
  // Inception-ResNet-C, 8x8: 1x1 | 1x1→1x3→3x1. Mixed: 192 + 256 = 448.
  block8: (n) => [
    convBn(n, 192, 1),
    [...convBn(n, 192, 1), ...convBn(n, 224, [1, 3]), ...convBn(n, 256, [3, 1])],
  ],
};

/**
 * Keras' inception_resnet_block: out = act(x + scale · conv1x1(concat(branches))). The 1x1 conv
 * (`<block>_conv`, with bias, no BN or activation) restores the input's `channels`.
 */
function inceptionResnetBlock(
  n: KerasAutoNames,
  type: BlockType,
  index: number,
  channels: number,
  scale: number,
  activation = true,
): NodeSpec {
  const name = `${type}_${index}`;
  const list = BLOCK_BRANCHES[type](n).map((layers, i) => ({ name: `${name}_branch_${i}`, layers }));
  // Keras has no enclosing layer for the block; its scaled add (CustomScaleLayer) carries the
  // block's name, and so does our residual composite.
  return residual(name, {
    body: [
      branches(`${name}_mixed`, list),
      conv(`${name}_conv`, channels, 1, { padding: 'same', bias: true }),
    ],
    scale,
    addName: name,
    ...(activation ? { post: [relu(`${name}_ac`)] } : {}),
  });
}

/** `count` blocks of one type, `<type>_1` … `<type>_<count>`; the last may drop its activation (block8_10). */
function stack(
  n: KerasAutoNames,
  type: BlockType,
  count: number,
  channels: number,
  scale: number,
  lastPlain = false,
): NodeSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const last = lastPlain && i === count - 1;
    return inceptionResnetBlock(n, type, i + 1, channels, last ? 1 : scale, !last);
  });
}

function buildInceptionResNetV2(options: ZooOptions) {
  const input: Shape3 = options.input ?? [299, 299, 3];
  if (input[0] < MIN_SIDE || input[1] < MIN_SIDE) {
    throw new SpecError(
      'input',
      input,
      `an input of at least ${MIN_SIDE}x${MIN_SIDE} for inception_resnet_v2`,
    );
  }
  const classes = options.classes ?? 1000;
  const n = new KerasAutoNames();
  const valid = { padding: 'valid' } as const;
  const validStride2 = { strides: 2, padding: 'valid' } as const;
  // Shapes below are for the default 299x299x3 input. Object literals and arrays are evaluated in
  // source order, so the auto-name counters advance in Keras' creation order.
  const layers: NodeSpec[] = [
    // Stem.
    ...convBn(n, 32, 3, validStride2), // 149x149x32
    ...convBn(n, 32, 3, valid), // 147x147x32
    ...convBn(n, 64, 3), // 147x147x64
    maxPool(n.next('max_pooling2d'), 3, 2), // 73x73x64
    ...convBn(n, 80, 1, valid), // 73x73x80
    ...convBn(n, 192, 3, valid), // 71x71x192
    maxPool(n.next('max_pooling2d'), 3, 2), // 35x35x192
    // Inception-A: 96 + 64 + 96 + 64.
    branches('mixed_5b', [
      { name: 'mixed_5b_branch_0', layers: convBn(n, 96, 1) },
      { name: 'mixed_5b_branch_1', layers: [...convBn(n, 48, 1), ...convBn(n, 64, 5)] },
      { name: 'mixed_5b_branch_2', layers: [...convBn(n, 64, 1), ...convBn(n, 96, 3), ...convBn(n, 96, 3)] },
      {
        name: 'mixed_5b_branch_pool',
        layers: [avgPool(n.next('average_pooling2d'), 3, 1, 'same'), ...convBn(n, 64, 1)],
      },
    ]), // 35x35x320
    ...stack(n, 'block35', 10, 320, 0.17), // 35x35x320
    // Reduction-A: 384 + 384 + 320.
    branches('mixed_6a', [
      { name: 'mixed_6a_branch_0', layers: convBn(n, 384, 3, validStride2) },
      {
        name: 'mixed_6a_branch_1',
        layers: [...convBn(n, 256, 1), ...convBn(n, 256, 3), ...convBn(n, 384, 3, validStride2)],
      },
      { name: 'mixed_6a_branch_pool', layers: [maxPool(n.next('max_pooling2d'), 3, 2, 'valid')] },
    ]), // 17x17x1088
    ...stack(n, 'block17', 20, 1088, 0.1), // 17x17x1088
    // Reduction-B: 384 + 288 + 320 + 1088.
    branches('mixed_7a', [
      { name: 'mixed_7a_branch_0', layers: [...convBn(n, 256, 1), ...convBn(n, 384, 3, validStride2)] },
      { name: 'mixed_7a_branch_1', layers: [...convBn(n, 256, 1), ...convBn(n, 288, 3, validStride2)] },
      {
        name: 'mixed_7a_branch_2',
        layers: [...convBn(n, 256, 1), ...convBn(n, 288, 3), ...convBn(n, 320, 3, validStride2)],
      },
      { name: 'mixed_7a_branch_pool', layers: [maxPool(n.next('max_pooling2d'), 3, 2, 'valid')] },
    ]), // 8x8x2080
    // block8_10: scale 1.0 and no activation, as Keras.
    ...stack(n, 'block8', 10, 2080, 0.2, true), // 8x8x2080
    ...convBn(n, 1536, 1, { name: 'conv_7b' }), // 8x8x1536
  ];
  if (options.includeTop !== false) {
    layers.push(globalAvgPool('avg_pool'), dense('predictions', classes, 'softmax')); // 1536 → classes
  }
  return { name: 'inception_resnet_v2', input, layers };
}

export const inceptionResnetV2: ZooEntry = {
  name: 'inception_resnet_v2',
  family: 'inception',
  layout: 'keras',
  description: 'Inception-ResNet v2, Keras Applications layout and layer names',
  reference: 'Szegedy et al. 2016 (arXiv:1602.07261); keras.applications.inception_resnet_v2',
  defaultInput: [299, 299, 3],
  defaultClasses: 1000,
  hasTop: true,
  build: (options = {}) => buildInceptionResNetV2(options),
};
