/**
 * One rule per layer kind: its output shape, its weights (from which parameters are counted), its
 * multiply-accumulates and its element-wise work. Pure arithmetic; no tensors. Adding a kind is one
 * entry here plus a test. Conventions (see conventions.ts): conv MACs = Hout·Wout·Cout·(Cin/groups)·kh·kw,
 * dense MACs = in·out, everything else 0 MACs with its element operations reported apart.
 */
import { SpecError } from '../errors.js';
import type { LeafAttrsByKind, LeafKind, Pair, TensorShape } from '../spec/types.js';
import { effectiveKernel, outputLength, resolvePads } from './geometry.js';

export interface WeightSpec {
  /** Keras/tfjs weight name: kernel, bias, gamma, beta, moving_mean, moving_variance. */
  name: string;
  shape: number[];
  trainable: boolean;
}

/** How a spatial layer moves the receptive field: window and stride per axis. */
export interface Window {
  kernel: Pair;
  strides: Pair;
  dilation: Pair;
}

export interface LayerRule<K extends LeafKind> {
  /** 'counted' kinds have a MAC formula; 'zero' kinds cost 0 MACs by convention or by design. */
  cost: 'counted' | 'zero';
  outputShape(inputs: TensorShape[], attrs: LeafAttrsByKind[K], where: string): TensorShape;
  weights(inputs: TensorShape[], attrs: LeafAttrsByKind[K]): WeightSpec[];
  macs(inputs: TensorShape[], output: TensorShape, attrs: LeafAttrsByKind[K]): number;
  elementOps(inputs: TensorShape[], output: TensorShape, attrs: LeafAttrsByKind[K]): number;
  /** Present for layers that slide a window over H and W; global pooling uses the whole input. */
  window?(attrs: LeafAttrsByKind[K], inputs: TensorShape[]): Window;
}

export const elements = (shape: TensorShape): number => shape.reduce((a, b) => a * b, 1);
const fmt = (s: TensorShape) => `[${s.join(', ')}]`;

function featureMap(inputs: TensorShape[], where: string, kind: string): [number, number, number] {
  const s = inputs[0];
  if (s.length !== 3) {
    throw new SpecError(where, fmt(s), `a feature map [H, W, C] as input to ${kind} (got a flat tensor; spatial layers must come before flatten, global pooling and dense)`, 'SHAPE_MISMATCH');
  }
  return s as [number, number, number];
}

function windowOutput(
  inShape: [number, number, number],
  kernel: Pair,
  strides: Pair,
  dilation: Pair,
  padding: Parameters<typeof resolvePads>[0],
  ceilMode: boolean,
  where: string,
): [number, number] {
  const pads = resolvePads(padding, [inShape[0], inShape[1]], kernel, strides, dilation);
  const h = outputLength(inShape[0], kernel[0], strides[0], dilation[0], pads.top, pads.bottom, ceilMode);
  const w = outputLength(inShape[1], kernel[1], strides[1], dilation[1], pads.left, pads.right, ceilMode);
  if (h < 1 || w < 1) {
    const kh = effectiveKernel(kernel[0], dilation[0]);
    const kw = effectiveKernel(kernel[1], dilation[1]);
    throw new SpecError(
      where,
      `input ${inShape[0]}x${inShape[1]} padded to ${inShape[0] + pads.top + pads.bottom}x${inShape[1] + pads.left + pads.right}`,
      `a padded input at least as large as the ${dilation[0] > 1 || dilation[1] > 1 ? 'dilated ' : ''}kernel ${kh}x${kw}`,
      'SHAPE_MISMATCH',
    );
  }
  return [h, w];
}

const noWeights = () => [];
const zero = () => 0;
const outputElements = (_i: TensorShape[], output: TensorShape) => elements(output);
const passThrough = (inputs: TensorShape[]) => inputs[0];

const pool: LayerRule<'maxpool'> = {
  cost: 'zero',
  outputShape(inputs, a, where) {
    const s = featureMap(inputs, where, 'pooling');
    const [h, w] = windowOutput(s, a.pool, a.strides, [1, 1], a.padding, a.ceilMode, where);
    return [h, w, s[2]];
  },
  weights: noWeights,
  macs: zero,
  // One compare or add per window element.
  elementOps: (_i, out, a) => elements(out) * a.pool[0] * a.pool[1],
  window: (a) => ({ kernel: a.pool, strides: a.strides, dilation: [1, 1] }),
};

const globalPool: LayerRule<'globalavgpool'> = {
  cost: 'zero',
  outputShape: (inputs, _a, where) => [featureMap(inputs, where, 'global pooling')[2]],
  weights: noWeights,
  macs: zero,
  elementOps: (inputs) => elements(inputs[0]),
  window: (_a, inputs) => ({ kernel: [inputs[0][0], inputs[0][1]], strides: [inputs[0][0], inputs[0][1]], dilation: [1, 1] }),
};

export const RULES: { [K in LeafKind]: LayerRule<K> } = {
  conv2d: {
    cost: 'counted',
    outputShape(inputs, a, where) {
      const s = featureMap(inputs, where, 'conv2d');
      if (s[2] % a.groups !== 0) {
        throw new SpecError(where, `${s[2]} input channels`, `input channels divisible by groups (${a.groups})`, 'SHAPE_MISMATCH');
      }
      const [h, w] = windowOutput(s, a.kernel, a.strides, a.dilation, a.padding, false, where);
      return [h, w, a.filters];
    },
    weights(inputs, a) {
      const cin = inputs[0][2] / a.groups;
      const w: WeightSpec[] = [{ name: 'kernel', shape: [a.kernel[0], a.kernel[1], cin, a.filters], trainable: true }];
      if (a.bias) w.push({ name: 'bias', shape: [a.filters], trainable: true });
      return w;
    },
    macs: (inputs, out, a) => out[0] * out[1] * out[2] * (inputs[0][2] / a.groups) * a.kernel[0] * a.kernel[1],
    elementOps: (_i, out, a) => (a.bias ? elements(out) : 0),
    window: (a) => ({ kernel: a.kernel, strides: a.strides, dilation: a.dilation }),
  },
  batchnorm: {
    cost: 'zero',
    outputShape: passThrough,
    weights(inputs, a) {
      const c = [inputs[0][inputs[0].length - 1]];
      const w: WeightSpec[] = [];
      if (a.scale) w.push({ name: 'gamma', shape: c, trainable: true });
      if (a.center) w.push({ name: 'beta', shape: c, trainable: true });
      w.push({ name: 'moving_mean', shape: c, trainable: false }, { name: 'moving_variance', shape: c, trainable: false });
      return w;
    },
    macs: zero,
    elementOps: outputElements,
  },
  activation: { cost: 'zero', outputShape: passThrough, weights: noWeights, macs: zero, elementOps: outputElements },
  zeropad: {
    cost: 'zero',
    outputShape(inputs, a, where) {
      const s = featureMap(inputs, where, 'zero padding');
      const p = a.padding;
      return [s[0] + p.top + p.bottom, s[1] + p.left + p.right, s[2]];
    },
    weights: noWeights,
    macs: zero,
    elementOps: zero,
    window: () => ({ kernel: [1, 1], strides: [1, 1], dilation: [1, 1] }),
  },
  maxpool: pool,
  avgpool: pool as unknown as LayerRule<'avgpool'>,
  globalavgpool: globalPool,
  globalmaxpool: globalPool as unknown as LayerRule<'globalmaxpool'>,
  flatten: { cost: 'zero', outputShape: (inputs) => [elements(inputs[0])], weights: noWeights, macs: zero, elementOps: zero },
  dense: {
    cost: 'counted',
    outputShape(inputs, a, where) {
      if (inputs[0].length !== 1) {
        throw new SpecError(where, fmt(inputs[0]), 'a flat input [features] to dense (add flatten or global pooling before it)', 'SHAPE_MISMATCH');
      }
      return [a.units];
    },
    weights(inputs, a) {
      const w: WeightSpec[] = [{ name: 'kernel', shape: [inputs[0][0], a.units], trainable: true }];
      if (a.bias) w.push({ name: 'bias', shape: [a.units], trainable: true });
      return w;
    },
    macs: (inputs, _o, a) => inputs[0][0] * a.units,
    elementOps: (_i, out, a) => (a.bias ? out[0] : 0) + (a.activation === 'linear' ? 0 : out[0]),
  },
  dropout: { cost: 'zero', outputShape: passThrough, weights: noWeights, macs: zero, elementOps: zero },
  add: {
    cost: 'zero',
    outputShape(inputs, _a, where) {
      const first = inputs[0];
      for (const other of inputs.slice(1)) {
        if (other.length !== first.length || other.some((d, i) => d !== first[i])) {
          throw new SpecError(where, `shortcut ${fmt(first)} + body ${fmt(other)}`, 'matching shapes at the add (use a projection shortcut when the body changes the shape)', 'SHAPE_MISMATCH');
        }
      }
      return first;
    },
    weights: noWeights,
    macs: zero,
    elementOps: (_i, out, a) => elements(out) * (a.scale === 1 ? 1 : 2),
  },
  concat: {
    cost: 'zero',
    outputShape(inputs, _a, where) {
      const first = inputs[0];
      for (const other of inputs.slice(1)) {
        if (other.length !== first.length || other.slice(0, -1).some((d, i) => d !== first[i])) {
          throw new SpecError(where, inputs.map(fmt).join(' ++ '), 'branch outputs with the same height and width', 'SHAPE_MISMATCH');
        }
      }
      const channels = inputs.reduce((sum, s) => sum + s[s.length - 1], 0);
      return [...first.slice(0, -1), channels];
    },
    weights: noWeights,
    macs: zero,
    elementOps: zero,
  },
};
