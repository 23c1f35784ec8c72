/**
 * ResNet in the torchvision layout ("v1.5": the stride sits on the 3x3 conv; no conv biases; BN
 * epsilon 1e-5), and the plain networks of He et al. 2015 (§4.1) built from the same stages with
 * the shortcuts removed.
 *
 * Layer names are torchvision's module paths with "." replaced by "_" (`layer1_0_conv1`,
 * `layer1_0_downsample_0`, `fc`), so a torchvision state_dict maps onto them mechanically.
 * Padding is explicit and symmetric, as PyTorch pads: TensorFlow's "same" would pad a stride-2
 * conv over an even input at the bottom/right only and give different numbers.
 * Input-size rule: at least 32x32.
 */
import type { NodeSpec } from '../src/spec/types.js';
import { bn, conv, dense, globalAvgPool, maxPool, relu, residual, sequence } from './layers.js';
import type { ZooEntry, ZooOptions } from './registry-types.js';

const EPS = 1e-5;

interface Variant {
  block: 'basic' | 'bottleneck';
  blocks: [number, number, number, number];
}

/** A depth variant is a row. */
const VARIANTS: Record<number, Variant> = {
  18: { block: 'basic', blocks: [2, 2, 2, 2] },
  34: { block: 'basic', blocks: [3, 4, 6, 3] },
  50: { block: 'bottleneck', blocks: [3, 4, 6, 3] },
  101: { block: 'bottleneck', blocks: [3, 4, 23, 3] },
  152: { block: 'bottleneck', blocks: [3, 8, 36, 3] },
};

const convBn = (name: string, bnName: string, filters: number, k: number, stride = 1): NodeSpec[] => [
  conv(name, filters, k, { strides: stride, padding: (k - 1) / 2, bias: false }),
  bn(bnName, EPS),
];

function body(kind: Variant['block'], name: string, planes: number, stride: number): NodeSpec[] {
  if (kind === 'basic') {
    return [
      ...convBn(`${name}_conv1`, `${name}_bn1`, planes, 3, stride),
      relu(`${name}_relu1`),
      ...convBn(`${name}_conv2`, `${name}_bn2`, planes, 3),
    ];
  }
  return [
    ...convBn(`${name}_conv1`, `${name}_bn1`, planes, 1),
    relu(`${name}_relu1`),
    ...convBn(`${name}_conv2`, `${name}_bn2`, planes, 3, stride),
    relu(`${name}_relu2`),
    ...convBn(`${name}_conv3`, `${name}_bn3`, planes * 4, 1),
  ];
}

function buildStages(variant: Variant, shortcuts: boolean): NodeSpec[] {
  const expansion = variant.block === 'basic' ? 1 : 4;
  let inplanes = 64;
  const out: NodeSpec[] = [];
  variant.blocks.forEach((count, stage) => {
    const planes = 64 * 2 ** stage;
    for (let i = 0; i < count; i++) {
      const name = `layer${stage + 1}_${i}`;
      const stride = i === 0 && stage > 0 ? 2 : 1;
      const layers = body(variant.block, name, planes, stride);
      if (!shortcuts) {
        out.push(sequence(name, [...layers, relu(`${name}_out`)]));
      } else {
        const project = stride !== 1 || inplanes !== planes * expansion;
        out.push(
          residual(name, {
            body: layers,
            shortcut: project
              ? {
                  layers: convBn(
                    `${name}_downsample_0`,
                    `${name}_downsample_1`,
                    planes * expansion,
                    1,
                    stride,
                  ),
                }
              : 'identity',
            addName: `${name}_add`,
            post: [relu(`${name}_out`)],
          }),
        );
      }
      inplanes = planes * expansion;
    }
  });
  return out;
}

function build(name: string, variant: Variant, shortcuts: boolean, options: ZooOptions) {
  return {
    name,
    input: options.input ?? [224, 224, 3],
    layers: [
      conv('conv1', 64, 7, { strides: 2, padding: 3, bias: false }), // 112x112x64
      bn('bn1', EPS),
      relu('relu'),
      maxPool('maxpool', 3, 2, 1), // 56x56x64
      ...buildStages(variant, shortcuts), // 56x56 → 28x28 → 14x14 → 7x7
      ...(options.includeTop === false
        ? []
        : [globalAvgPool('avgpool'), dense('fc', options.classes ?? 1000)]),
    ],
  };
}

function entry(name: string, depth: number, shortcuts: boolean): ZooEntry {
  const variant = VARIANTS[depth];
  return {
    name,
    family: shortcuts ? 'resnet' : 'plain',
    layout: 'torchvision',
    description: shortcuts
      ? `ResNet-${depth}, torchvision layout (v1.5) and state_dict names`
      : `Plain ${depth}-layer network: ResNet-${depth}'s layers without the shortcuts`,
    reference: shortcuts
      ? 'He et al. 2015 (arXiv:1512.03385); torchvision.models.resnet'
      : 'He et al. 2015 (arXiv:1512.03385) §4.1, plain baseline',
    defaultInput: [224, 224, 3],
    defaultClasses: 1000,
    hasTop: true,
    build: (options = {}) => build(name, variant, shortcuts, options),
  };
}

export const torchvisionResNets: ZooEntry[] = [
  entry('resnet18', 18, true),
  entry('resnet34', 34, true),
  entry('resnet50_tv', 50, true),
  entry('resnet101_tv', 101, true),
  entry('resnet152_tv', 152, true),
];

export const plainNets: ZooEntry[] = [entry('plain18', 18, false), entry('plain34', 34, false)];
