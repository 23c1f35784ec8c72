/** Pieces several kinds' rules share: element counts, input checks, and the sliding-window output size. */
import { SpecError } from '../../errors.js';
import type { Pair, Padding, TensorShape } from '../basics.js';
import { effectiveKernel, outputLength, resolvePads } from '../geometry.js';
import type { KindTraits, Saved, WeightSpec } from './kind.js';

export const elements = (shape: TensorShape): number => shape.reduce((a, b) => a * b, 1);
export const fmt = (s: TensorShape) => `[${s.join(', ')}]`;

export function featureMap(inputs: TensorShape[], where: string, kind: string): [number, number, number] {
  const s = inputs[0];
  if (s.length !== 3) {
    throw new SpecError(
      where,
      fmt(s),
      `a feature map [H, W, C] as input to ${kind} (got a flat tensor; spatial layers must come before flatten, global pooling and dense)`,
      'SHAPE_MISMATCH',
    );
  }
  return s as [number, number, number];
}

/** The spatial output size of a window sliding over a feature map; refuses a window larger than the padded input. */
export function windowOutput(
  inShape: [number, number, number],
  kernel: Pair,
  strides: Pair,
  dilation: Pair,
  padding: Padding,
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

/** A per-channel vector's length must match the input's channels (or be one value for all). */
export function perChannel(values: number[], inputs: TensorShape[], where: string, field: string): void {
  const c = inputs[0][inputs[0].length - 1];
  if (values.length !== 1 && values.length !== c) {
    throw new SpecError(
      where,
      `${values.length} ${field} values`,
      `1 ${field} value or one per channel (${c})`,
      'SHAPE_MISMATCH',
    );
  }
}

export const noWeights = (): WeightSpec[] => [];
/** Layers whose backward pass needs no forward tensor: sums, copies, views, affine maps by constants. */
export const savesNothing = (): Saved => ({ tensors: [], own: [] });
export const savesInput = (): Saved => ({ tensors: [{ input: 0 }], own: [] });
export const savesOutput = (): Saved => ({ tensors: ['output'], own: [] });
/** PyTorch's max-pool indices: one int64 per output element. */
export const indicesOf = (output: TensorShape) => ({
  what: 'indices (int64)',
  bytes: 8 * elements(output),
  perImage: true,
});
export const zero = () => 0;
export const outputElements = (_i: TensorShape[], output: TensorShape) => elements(output);
export const passThrough = (inputs: TensorShape[]) => inputs[0];

/** Traits of a kind that moves or reduces data without mixing channels or changing signs. */
export const dataMovement = (channelwise: boolean): KindTraits<unknown> => ({
  channelwise,
  mixesChannels: false,
  nonNegative: (_a, inputs) => inputs.every(Boolean),
  arity: 'one',
});
