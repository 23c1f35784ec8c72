/**
 * ResNet v1 and v2 in the Keras Applications layout and layer names, so that Keras ImageNet weights
 * load by name.
 *
 * - v1: He et al., "Deep Residual Learning for Image Recognition" (2015); keras.applications.resnet
 *   (stride on the first 1x1 conv of a bottleneck, biases on every conv, BN epsilon 1.001e-5).
 * - v2: He et al., "Identity Mappings in Deep Residual Networks" (2016); keras.applications.resnet_v2
 *   (pre-activation; the stride sits on the *last* block of a stack, as Keras does).
 * Input-size rule: at least 32x32 (five stride-2 stages).
 */
import type { NodeSpec } from '../src/spec/types.js';
import { act, bn, conv, dense, globalAvgPool, maxPool, relu, residual, zeroPad } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';

const EPS = 1.001e-5;

/** Blocks per stack, by depth: a depth variant is a row, not a function. */
const DEPTHS = { 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3] } as const;
type Depth = keyof typeof DEPTHS;
const STACK_FILTERS = [64, 128, 256, 512];

/** v1 bottleneck block: 1x1 (stride) → 3x3 → 1x1·4, projection shortcut on the first block of a stack. */
function blockV1(name: string, filters: number, stride: number, convShortcut: boolean): NodeSpec {
  return residual(name, {
    body: [
      conv(`${name}_1_conv`, filters, 1, { strides: stride }),
      bn(`${name}_1_bn`, EPS),
      relu(`${name}_1_relu`),
      conv(`${name}_2_conv`, filters, 3, { padding: 'same' }),
      bn(`${name}_2_bn`, EPS),
      relu(`${name}_2_relu`),
      conv(`${name}_3_conv`, 4 * filters, 1),
      bn(`${name}_3_bn`, EPS),
    ],
    shortcut: convShortcut
      ? { layers: [conv(`${name}_0_conv`, 4 * filters, 1, { strides: stride }), bn(`${name}_0_bn`, EPS)] }
      : 'identity',
    addName: `${name}_add`,
    post: [relu(`${name}_out`)],
  });
}

/** v2 pre-activation bottleneck block; the shortcut pools (1x1, stride) when it only downsamples. */
function blockV2(name: string, filters: number, stride: number, convShortcut: boolean): NodeSpec {
  let shortcut: Parameters<typeof residual>[1]['shortcut'] = 'identity';
  if (convShortcut)
    shortcut = { from: 'preact', layers: [conv(`${name}_0_conv`, 4 * filters, 1, { strides: stride })] };
  // Differs from Keras: Keras leaves this pooling layer auto-named (max_pooling2d_N); it has no weights.
  else if (stride > 1) shortcut = { from: 'input', layers: [maxPool(`${name}_0_pool`, 1, stride)] };
  return residual(name, {
    preact: [bn(`${name}_preact_bn`, EPS), relu(`${name}_preact_relu`)],
    body: [
      conv(`${name}_1_conv`, filters, 1, { bias: false }),
      bn(`${name}_1_bn`, EPS),
      relu(`${name}_1_relu`),
      zeroPad(`${name}_2_pad`, 1),
      conv(`${name}_2_conv`, filters, 3, { strides: stride, bias: false }),
      bn(`${name}_2_bn`, EPS),
      relu(`${name}_2_relu`),
      conv(`${name}_3_conv`, 4 * filters, 1),
    ],
    shortcut,
    addName: `${name}_out`,
  });
}

function stackV1(name: string, filters: number, blocks: number, stride1: number): NodeSpec[] {
  return Array.from({ length: blocks }, (_, i) =>
    blockV1(`${name}_block${i + 1}`, filters, i === 0 ? stride1 : 1, i === 0),
  );
}

/** Keras' stack2: projection on the first block, stride on the last. */
function stackV2(name: string, filters: number, blocks: number, stride1: number): NodeSpec[] {
  return Array.from({ length: blocks }, (_, i) =>
    blockV2(`${name}_block${i + 1}`, filters, i === blocks - 1 ? stride1 : 1, i === 0),
  );
}

function buildResNet(depth: Depth, preact: boolean, options: ZooOptions, modelName: string) {
  const input = options.input ?? [224, 224, 3];
  const classes = options.classes ?? 1000;
  const stages = DEPTHS[depth].flatMap((blocks, i) => {
    const name = `conv${i + 2}`;
    return preact
      ? stackV2(name, STACK_FILTERS[i], blocks, i === 3 ? 1 : 2)
      : stackV1(name, STACK_FILTERS[i], blocks, i === 0 ? 1 : 2);
  });
  const layers: NodeSpec[] = [
    zeroPad('conv1_pad', 3),
    conv('conv1_conv', 64, 7, { strides: 2 }), // 112x112x64
    ...(preact ? [] : [bn('conv1_bn', EPS), relu('conv1_relu')]),
    zeroPad('pool1_pad', 1),
    maxPool('pool1_pool', 3, 2), // 56x56x64
    ...stages, // 56x56x256 → 28x28x512 → 14x14x1024 → 7x7x2048
    ...(preact ? [bn('post_bn', EPS), act('post_relu')] : []),
    ...(options.includeTop === false
      ? []
      : [globalAvgPool('avg_pool'), dense('predictions', classes, 'softmax')]),
  ];
  return { name: modelName, input, layers };
}

function entry(depth: Depth, preact: boolean): ZooEntry {
  const name = `resnet${depth}${preact ? 'v2' : ''}`;
  return {
    name,
    family: 'resnet',
    layout: 'keras',
    description: `ResNet-${depth} ${preact ? 'v2 (pre-activation)' : 'v1'}, Keras Applications layout and layer names`,
    reference: preact
      ? 'He et al. 2016 (arXiv:1603.05027); keras.applications.resnet_v2'
      : 'He et al. 2015 (arXiv:1512.03385); keras.applications.resnet',
    defaultInput: [224, 224, 3],
    defaultClasses: 1000,
    hasTop: true,
    build: (options = {}) => buildResNet(depth, preact, options, name),
  };
}

export const kerasResNets: ZooEntry[] = [
  entry(50, false),
  entry(101, false),
  entry(152, false),
  entry(50, true),
  entry(101, true),
  entry(152, true),
];
