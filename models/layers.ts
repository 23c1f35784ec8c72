/**
 * Terse constructors for spec nodes, so zoo generators read like the Keras and torchvision code
 * they follow. They only build plain spec objects; nothing here knows about tensors.
 */
import type {
  ActivationFn,
  BranchesSpec,
  Conv2dSpec,
  DenseSpec,
  NodeSpec,
  PaddingInput,
  PoolSpec,
  ResidualSpec,
  SizeInput,
} from '../src/spec/types.js';

export type ConvOptions = Omit<Conv2dSpec, 'kind' | 'filters' | 'kernel' | 'name'>;

export const conv = (
  name: string,
  filters: number,
  kernel: SizeInput,
  options: ConvOptions = {},
): Conv2dSpec => ({
  kind: 'conv2d',
  name,
  filters,
  kernel,
  ...options,
});

export const bn = (name: string, epsilon?: number): NodeSpec => ({
  kind: 'batchnorm',
  name,
  ...(epsilon === undefined ? {} : { epsilon }),
});
export const act = (name: string, fn: ActivationFn = 'relu'): NodeSpec => ({
  kind: 'activation',
  name,
  function: fn,
});
export const relu = (name: string): NodeSpec => act(name, 'relu');
export const zeroPad = (name: string, padding: Exclude<PaddingInput, 'same' | 'valid'>): NodeSpec => ({
  kind: 'zeropad',
  name,
  padding,
});

export const maxPool = (
  name: string,
  pool: SizeInput,
  strides?: SizeInput,
  padding?: PaddingInput,
  extra: Partial<PoolSpec> = {},
): PoolSpec => ({
  kind: 'maxpool',
  name,
  pool,
  ...(strides === undefined ? {} : { strides }),
  ...(padding === undefined ? {} : { padding }),
  ...extra,
});
export const avgPool = (
  name: string,
  pool: SizeInput,
  strides?: SizeInput,
  padding?: PaddingInput,
  extra: Partial<PoolSpec> = {},
): PoolSpec => ({
  ...maxPool(name, pool, strides, padding, extra),
  kind: 'avgpool',
});
export const globalAvgPool = (name: string, keepdims = false): NodeSpec => ({
  kind: 'globalavgpool',
  name,
  ...(keepdims ? { keepdims } : {}),
});
export const globalMaxPool = (name: string): NodeSpec => ({ kind: 'globalmaxpool', name });
export const flatten = (name: string): NodeSpec => ({ kind: 'flatten', name });
export const dropout = (name: string, rate: number): NodeSpec => ({ kind: 'dropout', name, rate });
export const dense = (name: string, units: number, activation?: ActivationFn, bias = true): DenseSpec => ({
  kind: 'dense',
  name,
  units,
  bias,
  ...(activation ? { activation } : {}),
});

export const residual = (name: string, parts: Omit<ResidualSpec, 'kind' | 'name'>): ResidualSpec => ({
  kind: 'residual',
  name,
  ...parts,
});
export const branches = (
  name: string,
  list: { name: string; layers: NodeSpec[] }[],
  merge?: BranchesSpec['merge'],
): BranchesSpec => ({
  kind: 'branches',
  name,
  branches: list,
  ...(merge ? { merge } : {}),
});
export const sequence = (name: string, layers: NodeSpec[]): NodeSpec => ({ kind: 'sequence', name, layers });

/**
 * Keras' automatic layer names (`conv2d_1`, `batch_normalization_1`, …) for models whose Keras
 * code names few layers. Counted per model from 1, as the released Keras weight files name them,
 * instead of by a process-wide counter, so a generator always yields the same names.
 */
export class KerasAutoNames {
  private readonly counts = new Map<string, number>();
  next(stem: string): string {
    const n = (this.counts.get(stem) ?? 0) + 1;
    this.counts.set(stem, n);
    return `${stem}_${n}`;
  }
}
