/** Messages between the main thread and inference workers, and what an engine must do. */
import type { Graph } from '../spec/types.js';
import type { PriorityResult } from '../thread-priority.js';
import type { BackendChoice, BackendName } from './tfjs/backend.js';
import type { PackedBatch } from './batch-input.js';

export type EngineKind = 'tfjs' | 'onnxruntime';

/** The numeric precision a model computes in (docs/precision.md). */
export const PRECISIONS = ['fp32', 'bf16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Everything a worker needs to build one model: the graph and where its weights are. */
export interface ModelPlan {
  name: string;
  graph: Graph;
  weightsPath: string;
  engine: EngineKind;
  /**
   * ONNX Runtime threads of this copy (default ONNX_THREADS): ENGINE=auto's arrangement measurement
   * loads a one-thread copy per worker beside the all-cores session (src/serving/engine-choice.ts).
   */
  threads?: number;
  /**
   * int8: quantize, calibrated on `calibration` (ONNX Runtime only). Absent: fp32. The worker
   * answers with each calibration image's top-1 at fp32 and at int8 (PrecisionFigures).
   */
  precision?: 'int8';
  calibration?: CalibrationSet;
  /**
   * The int8 model one worker already built from `calibration`: the other workers (and a
   * replacement worker) load these bytes instead of calibrating again.
   */
  onnx?: Uint8Array;
}

/** Preprocessed calibration images, NHWC row-major, `n` of them. */
export interface CalibrationSet {
  input: Float32Array;
  n: number;
}

/** What a quantized model answered against fp32 on its calibration images: each image's top-1 class. */
export interface PrecisionFigures {
  images: number;
  fp32Top1: number[];
  top1: number[];
}

/** What a worker answers to a load. */
export interface LoadResult {
  keyStyle: string;
  format: string;
  figures?: PrecisionFigures;
  /** The int8 model the worker built (see ModelPlan.onnx). */
  onnx?: Uint8Array;
}

export interface InferenceEngine {
  readonly kind: EngineKind;
  /** Returns logits, row-major [n, classes]. */
  infer(input: Float32Array, n: number): Promise<Float32Array>;
  dispose(): void;
}

/** An engine as a worker builds it, with what an int8 build also hands back once (LoadResult). */
export interface BuiltEngine {
  engine: InferenceEngine;
  /** How int8 compared with fp32 on the calibration images. */
  figures?: PrecisionFigures;
  /** The int8 model built, for the other workers. */
  onnx?: Uint8Array;
}

export interface WorkerInit {
  backend?: BackendName;
  onnxThreads: number;
  wasmThreads: number;
  /** The nice value worker threads take (src/thread-priority.ts). */
  nice: number;
}

export type WorkerRequest =
  | { type: 'load'; id: number; plan: ModelPlan }
  /** A batch packed as ./batch-input.ts describes: floats and/or 8-bit pixels. */
  | { type: 'infer'; id: number; model: string; batch: PackedBatch }
  | { type: 'unload'; id: number; model: string }
  | { type: 'export-onnx'; id: number; plan: ModelPlan }
  /** Median wall time of `runs` sequential inferences of one batch. */
  | {
      type: 'time';
      id: number;
      model: string;
      input: Float32Array;
      n: number;
      runs: number;
      /** Stop after two runs that both took longer than this (clearly slower than what it is compared with). */
      stopAboveMs?: number;
    }
  | { type: 'memory'; id: number }
  /** Grad-CAM maps for a batch packed as src/engines/gradcam-batch.ts describes. */
  | { type: 'explain'; id: number; model: string; input: Float32Array; n: number };

export type WorkerReply =
  | { type: 'ready'; backend: BackendChoice; priority: PriorityResult }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: string; problems?: Record<string, unknown>[] };

export interface WorkerMemory {
  numTensors: number;
  numBytes: number;
}

/** A timing in one worker: the median of the runs made (fewer than asked when stopped early). */
export interface EngineTiming {
  medianMs: number;
  runs: number;
}
