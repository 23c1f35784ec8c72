/**
 * Inception v3 in the Keras Applications layout and layer names, so that Keras ImageNet weights
 * load by name.
 *
 * Szegedy et al., "Rethinking the Inception Architecture for Computer Vision" (2015,
 * arXiv:1512.00567); keras.applications.inception_v3. Keras names almost every layer
 * automatically (`conv2d_1`, `batch_normalization_1`, `activation_1`, …), so we count those names
 * per model, in Keras' creation order; only the module outputs (`mixed0`…`mixed10`, `mixed9_0`,
 * `mixed9_1`) and the head (`avg_pool`, `predictions`) carry explicit names.
 *
 * Input-size rule: at least 75x75 (Keras' min_size); the default is 299x299.
 *
 * Differs from the paper, as Keras (after TF-slim) does: the 35x35 modules keep a 5x5 branch
 * instead of two 3x3 convs beside the 3x3-double branch, and there is no auxiliary classifier.
 */
import { SpecError } from '../src/errors.js';
import type { BatchNormSpec, NodeSpec, PaddingInput, Shape3, SizeInput } from '../src/spec/types.js';
import { avgPool, branches, conv, dense, globalAvgPool, KerasAutoNames, maxPool, relu } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';

const MIN_SIDE = 75;

/** BatchNormalization(axis=3, scale=False): Keras' default epsilon 1e-3, no gamma (a ReLU follows). */
const bnNoScale = (name: string): BatchNormSpec => ({ kind: 'batchnorm', name, epsilon: 1e-3, scale: false });

/**
 * Keras' conv2d_bn: Conv2D(use_bias=False) → BatchNormalization(scale=False) → ReLU, each
 * auto-named when the layers are created, which is the order this function is called in.
 */
function convBn(
  n: KerasAutoNames,
  filters: number,
  kernel: SizeInput,
  strides: SizeInput = 1,
  padding: PaddingInput = 'same',
): NodeSpec[] {
  return [
    conv(n.next('conv2d'), filters, kernel, { strides, padding, bias: false }),
    bnNoScale(n.next('batch_normalization')),
    relu(n.next('activation')),
  ];
}

// Each module lists its branches in Keras' creation order, which is also its concat order; the
// object literals below are evaluated top to bottom, so the auto-name counters advance as in Keras.

/** 35x35 module (mixed0–mixed2): 1x1 | 1x1→5x5 | 1x1→3x3→3x3 | avgpool→1x1. Out: 224 + poolFilters. */
function module35(n: KerasAutoNames, name: string, poolFilters: number): NodeSpec {
  return branches(name, [
    { name: `${name}_branch1x1`, layers: convBn(n, 64, 1) },
    { name: `${name}_branch5x5`, layers: [...convBn(n, 48, 1), ...convBn(n, 64, 5)] },
    { name: `${name}_branch3x3dbl`, layers: [...convBn(n, 64, 1), ...convBn(n, 96, 3), ...convBn(n, 96, 3)] },
    {
      name: `${name}_branch_pool`,
      layers: [avgPool(n.next('average_pooling2d'), 3, 1, 'same'), ...convBn(n, poolFilters, 1)],
    },
  ]);
}

/** 35x35 → 17x17 reduction (mixed3): 3x3/2 | 1x1→3x3→3x3/2 | maxpool/2. Out: 384 + 96 + C_in. */
function reduction35(n: KerasAutoNames, name: string): NodeSpec {
  return branches(name, [
    { name: `${name}_branch3x3`, layers: convBn(n, 384, 3, 2, 'valid') },
    {
      name: `${name}_branch3x3dbl`,
      layers: [...convBn(n, 64, 1), ...convBn(n, 96, 3), ...convBn(n, 96, 3, 2, 'valid')],
    },
    { name: `${name}_branch_pool`, layers: [maxPool(n.next('max_pooling2d'), 3, 2)] },
  ]);
}

/** 17x17 module (mixed4–mixed7): factorised 7x7 convs with c7 inner channels. Out: 4·192 = 768. */
function module17(n: KerasAutoNames, name: string, c7: number): NodeSpec {
  return branches(name, [
    { name: `${name}_branch1x1`, layers: convBn(n, 192, 1) },
    {
      name: `${name}_branch7x7`,
      layers: [...convBn(n, c7, 1), ...convBn(n, c7, [1, 7]), ...convBn(n, 192, [7, 1])],
    },
    {
      name: `${name}_branch7x7dbl`,
      layers: [
        ...convBn(n, c7, 1),
        ...convBn(n, c7, [7, 1]),
        ...convBn(n, c7, [1, 7]),
        ...convBn(n, c7, [7, 1]),
        ...convBn(n, 192, [1, 7]),
      ],
    },
    {
      name: `${name}_branch_pool`,
      layers: [avgPool(n.next('average_pooling2d'), 3, 1, 'same'), ...convBn(n, 192, 1)],
    },
  ]);
}

/** 17x17 → 8x8 reduction (mixed8): 1x1→3x3/2 | 1x1→1x7→7x1→3x3/2 | maxpool/2. Out: 320 + 192 + C_in. */
function reduction17(n: KerasAutoNames, name: string): NodeSpec {
  return branches(name, [
    { name: `${name}_branch3x3`, layers: [...convBn(n, 192, 1), ...convBn(n, 320, 3, 2, 'valid')] },
    {
      name: `${name}_branch7x7x3`,
      layers: [
        ...convBn(n, 192, 1),
        ...convBn(n, 192, [1, 7]),
        ...convBn(n, 192, [7, 1]),
        ...convBn(n, 192, 3, 2, 'valid'),
      ],
    },
    { name: `${name}_branch_pool`, layers: [maxPool(n.next('max_pooling2d'), 3, 2)] },
  ]);
}

/**
 * 8x8 module (mixed9, mixed10): the 3x3 and 3x3-double branches each end by splitting into
 * parallel 1x3 and 3x1 convs that are concatenated (a nested branches node). Keras names the first
 * split `mixed9_<i>` and leaves the second auto-named (`concatenate_N`). Out: 320 + 768 + 768 + 192 = 2048.
 */
function module8(n: KerasAutoNames, name: string, index: number): NodeSpec {
  const branch3x3 = `${name}_branch3x3`;
  const branch3x3dbl = `${name}_branch3x3dbl`;
  return branches(name, [
    { name: `${name}_branch1x1`, layers: convBn(n, 320, 1) },
    {
      name: branch3x3,
      layers: [
        ...convBn(n, 384, 1),
        branches(`mixed9_${index}`, [
          { name: `${branch3x3}_1`, layers: convBn(n, 384, [1, 3]) },
          { name: `${branch3x3}_2`, layers: convBn(n, 384, [3, 1]) },
        ]),
      ],
    },
    {
      name: branch3x3dbl,
      layers: [
        ...convBn(n, 448, 1),
        ...convBn(n, 384, 3),
        // Keras leaves this concat unnamed; its counter is separate from the conv/BN/ReLU ones.
        branches(n.next('concatenate'), [
          { name: `${branch3x3dbl}_1`, layers: convBn(n, 384, [1, 3]) },
          { name: `${branch3x3dbl}_2`, layers: convBn(n, 384, [3, 1]) },
        ]),
      ],
    },
    {
      name: `${name}_branch_pool`,
      layers: [avgPool(n.next('average_pooling2d'), 3, 1, 'same'), ...convBn(n, 192, 1)],
    },
  ]);
}

function buildInceptionV3(options: ZooOptions) {
  const input: Shape3 = options.input ?? [299, 299, 3];
  if (input[0] < MIN_SIDE || input[1] < MIN_SIDE) {
    throw new SpecError('input', input, `an input of at least ${MIN_SIDE}x${MIN_SIDE} for inception_v3`);
  }
  const classes = options.classes ?? 1000;
  const n = new KerasAutoNames();
  // Shapes below are for the default 299x299x3 input.
  const layers: NodeSpec[] = [
    ...convBn(n, 32, 3, 2, 'valid'), // 149x149x32
    ...convBn(n, 32, 3, 1, 'valid'), // 147x147x32
    ...convBn(n, 64, 3), // 147x147x64
    maxPool(n.next('max_pooling2d'), 3, 2), // 73x73x64
    ...convBn(n, 80, 1, 1, 'valid'), // 73x73x80
    ...convBn(n, 192, 3, 1, 'valid'), // 71x71x192
    maxPool(n.next('max_pooling2d'), 3, 2), // 35x35x192
    module35(n, 'mixed0', 32), // 35x35x256
    module35(n, 'mixed1', 64), // 35x35x288
    module35(n, 'mixed2', 64), // 35x35x288
    reduction35(n, 'mixed3'), // 17x17x768
    module17(n, 'mixed4', 128), // 17x17x768
    module17(n, 'mixed5', 160), // 17x17x768
    module17(n, 'mixed6', 160), // 17x17x768
    module17(n, 'mixed7', 192), // 17x17x768
    reduction17(n, 'mixed8'), // 8x8x1280
    module8(n, 'mixed9', 0), // 8x8x2048
    module8(n, 'mixed10', 1), // 8x8x2048
  ];
  if (options.includeTop !== false) {
    layers.push(globalAvgPool('avg_pool'), dense('predictions', classes, 'softmax')); // 2048 → classes
  }
  return { name: 'inception_v3', input, layers };
}

export const inceptionV3: ZooEntry = {
  name: 'inception_v3',
  family: 'inception',
  layout: 'keras',
  description: 'Inception v3, Keras Applications layout and layer names',
  reference: 'Szegedy et al. 2015 (arXiv:1512.00567); keras.applications.inception_v3',
  defaultInput: [299, 299, 3],
  defaultClasses: 1000,
  hasTop: true,
  build: (options = {}) => buildInceptionV3(options),
};
