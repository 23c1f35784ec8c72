/**
 * What a layer kind is: everything the core knows about it, in one descriptor. The kind table
 * (./index.ts) collects the descriptors; the JSON Schema, the attribute readers, the generated
 * names, the analysis rules and every trait set are derived from it, and every backend keeps one
 * table typed by kind. Nothing about a kind is declared anywhere else.
 */
import type { Pair, TensorShape } from '../basics.js';

export interface WeightSpec {
  /** Our (and Keras/tfjs) weight name: kernel, bias, gamma, beta, moving_mean, moving_variance, … */
  name: string;
  /** Our layout: HWIO conv kernels [kh, kw, Cin/groups, Cout], dense kernels [in, out], vectors [C]. */
  shape: number[];
  trainable: boolean;
  /**
   * The same tensor in a torchvision state_dict: `<module path>.<name>`, and the permutation that
   * turns PyTorch's layout into ours (OIHW → HWIO is [2, 3, 1, 0]); absent where PyTorch has none.
   */
  torch?: { name: string; perm?: number[] };
  /** Other names Keras stores this tensor under, with their shape; the elements are in the same order. */
  kerasAliases?: { name: string; shape: number[] }[];
}

/** How a spatial layer moves the receptive field: window and stride per axis. */
export interface Window {
  kernel: Pair;
  strides: Pair;
  dilation: Pair;
}

/** A tensor of the graph a layer keeps for its backward pass: one of its inputs, or its output. */
export type SavedTensor = { input: number } | 'output';

/**
 * What a layer keeps from its forward pass until its backward pass (CONVENTIONS.training), as
 * PyTorch's autograd keeps it on the CPU: the reference is scripts/reference/torch_training.py.
 */
export interface Saved {
  /** Tensors of the graph; one tensor kept by several layers counts once. */
  tensors: SavedTensor[];
  /** Tensors of its own that no other layer holds, in bytes: per image, or once per batch. */
  own: { what: string; bytes: number; perImage: boolean }[];
}

/**
 * The analysis rule of a kind: pure arithmetic, no tensors. Conventions (src/analysis/conventions.ts):
 * conv MACs = Hout·Wout·Cout·(Cin/groups)·kh·kw, dense MACs = in·out, every other kind 0 MACs with
 * its element-wise work reported apart.
 */
export interface LayerRule<A> {
  /** 'counted' kinds have a MAC formula; 'zero' kinds cost 0 MACs by convention or by design. */
  cost: 'counted' | 'zero';
  /** The output shape; throws a SpecError naming `where` when the inputs do not fit. */
  outputShape(inputs: TensorShape[], attrs: A, where: string): TensorShape;
  /** The weights, in Keras/tfjs order (kernel, bias; gamma, beta, moving_mean, moving_variance). */
  weights(inputs: TensorShape[], attrs: A): WeightSpec[];
  macs(inputs: TensorShape[], output: TensorShape, attrs: A): number;
  elementOps(inputs: TensorShape[], output: TensorShape, attrs: A): number;
  /** Present for layers that slide a window over H and W; global pooling uses the whole input. */
  window?(attrs: A, inputs: TensorShape[]): Window;
  /** What the layer keeps for the backward pass when training. */
  saves(inputs: TensorShape[], output: TensorShape, attrs: A): Saved;
}

export interface KindTraits<A> {
  /**
   * Each output channel is computed from the same input channel alone, and the channel count is
   * kept (batch norm, activation, padding, dropout): a 1x1 reduction seen through such layers
   * still feeds the next conv (the bottleneck report).
   */
  channelwise: boolean;
  /** Learned weights that mix channels or features (conv, dense): a shortcut holding one is a projection. */
  mixesChannels: boolean;
  /** Whether the output can never be negative, given which inputs can never be. */
  nonNegative(attrs: A, inputsNonNegative: boolean[]): boolean;
  /** How many inputs the kind reads: one, or two and more (merges). */
  arity: 'one' | 'many';
}

/** How a user writes the kind in the authoring spec. */
export interface Authoring<A, S> {
  /** JSON Schema of the fields beside `kind` and `name`. */
  properties: Record<string, unknown>;
  required?: string[];
  /** Reads and checks the written fields into the graph attributes (throws SpecError naming the field). */
  read(spec: Record<string, unknown>, at: string): A;
  /** A small example as written (for the docs, and tested to normalise). */
  example: S;
}

/**
 * A layer kind. `A` is its normalised attribute type in the graph; `S` the type of the layer as
 * written in a spec (`never` for kinds only composites and importers produce).
 */
export interface KindDef<A, S = never> {
  /** One line for the docs. */
  summary: string;
  /** Keras' automatic layer-name stem (`conv2d`, `batch_normalization`, …), for unnamed layers. */
  stem: string;
  authoring?: Authoring<A, S>;
  rule: LayerRule<A>;
  traits: KindTraits<A>;
}

export type AttrsOf<D> = D extends KindDef<infer A, unknown> ? A : never;
export type SpecOf<D> = D extends KindDef<unknown, infer S> ? S : never;

/** Stable, hierarchical name of a layer, optional in the authoring spec. */
export interface Named {
  name?: string;
}
