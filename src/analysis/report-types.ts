/**
 * The shapes of an analysis report: layer rows, totals and the cost reports. Types only, so the
 * analyzer and the report builders share them without importing each other.
 */
import type { CONVENTIONS } from './conventions.js';
import type { Pair, TensorShape } from '../spec/types.js';

export interface LayerRow {
  index: number;
  name: string;
  kind: string;
  /** Enclosing blocks, outermost first; the last one is the innermost. */
  blockPath: string[];
  inputs: string[];
  inputShapes: TensorShape[];
  outputShape: TensorShape;
  params: number;
  trainableParams: number;
  nonTrainableParams: number;
  weights: { name: string; shape: number[]; trainable: boolean }[];
  macs: number;
  elementOps: number;
  outputElements: number;
  outputBytes: number;
  /** Receptive field [h, w] and its stride [h, w], for layers whose output is a feature map. */
  receptiveField?: Pair;
  receptiveFieldStride?: Pair;
  /** With a training analysis: what this layer adds to one step, for the batch. */
  training?: {
    /** Bytes this layer keeps for the backward pass that no earlier layer already keeps. */
    savedBytes: number;
    backwardInputMacs: number;
    backwardWeightMacs: number;
  };
}

/** One training step's memory and MACs, for the batch (CONVENTIONS.training). */
export interface TrainingReport {
  batch: number;
  optimizer: 'sgd' | 'momentum' | 'adam';
  bytes: {
    weights: number;
    gradients: number;
    optimizerState: number;
    savedActivations: number;
    total: number;
  };
  macs: { forward: number; backwardInput: number; backwardWeights: number; step: number };
}

export interface Totals {
  layers: number;
  params: number;
  trainableParams: number;
  nonTrainableParams: number;
  macs: number;
  flops: number;
  elementOps: number;
  weightBytes: number;
  /** Sum of every layer's output, per image. */
  activationBytesPerImage: number;
  peakActivationBytes: number;
  peakActivationLayer: string;
}

export interface AnalysisReport {
  model: string;
  input: TensorShape;
  output: TensorShape;
  batch: number;
  conventions: typeof CONVENTIONS;
  layers: LayerRow[];
  totals: Totals;
  blocks: BlockReports;
  bottlenecks: BottleneckRow[];
  topLayers: TopLayerRow[];
  /** Present when the request asked for training costs. */
  training?: TrainingReport;
}

export interface Rollup {
  params: number;
  macs: number;
  elementOps: number;
}

export interface ResidualRow extends Rollup {
  name: string;
  blockPath: string[];
  shortcut: 'identity' | 'projection' | 'pooling';
  preactivation: boolean;
  inputShape: TensorShape;
  outputShape: TensorShape;
  shortcutParams: number;
  shortcutMacs: number;
  /** Share of the whole network's MACs spent in this block. */
  macShare: number;
}

export interface BranchRow extends Rollup {
  name: string;
  outputChannels: number;
  macShare: number;
  paramShare: number;
  layers: string[];
}

export interface InceptionRow extends Rollup {
  name: string;
  blockPath: string[];
  inputShape: TensorShape;
  outputShape: TensorShape;
  macShare: number;
  branches: BranchRow[];
}

export interface BlockReports {
  residual: ResidualRow[];
  inception: InceptionRow[];
}

export interface BottleneckRow {
  /** The k×k conv (k > 1). */
  conv: string;
  kernel: [number, number];
  /** The 1x1 conv that reduces channels before it. */
  reduction: string;
  inputShape: TensorShape;
  reducedChannels: number;
  outputShape: TensorShape;
  /** MACs of the k×k conv applied straight to the reduction's input. */
  macsWithout: number;
  reductionMacs: number;
  convMacs: number;
  macsWith: number;
  /** macsWith / macsWithout. */
  ratio: number;
  paramsWithout: number;
  paramsWith: number;
}

export interface TopLayerRow {
  name: string;
  kind: string;
  outputShape: TensorShape;
  macs: number;
  params: number;
  macShare: number;
}
