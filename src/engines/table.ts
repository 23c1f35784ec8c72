/**
 * The engines, one entry each: how a worker builds a model's engine from its graph and bound
 * weights. `EngineKind` lists them; ENGINE=auto times every one at warm-up and serves the fastest.
 */
import type { BoundWeight, Graph } from '../spec/types.js';
import { createOnnxEngine } from './onnxruntime.js';
import { TfjsEngine } from './tfjs/engine.js';
import type { EngineKind, InferenceEngine, WorkerInit } from './types.js';

export const ENGINES: {
  [E in EngineKind]: (graph: Graph, bound: BoundWeight[], init: WorkerInit) => Promise<InferenceEngine>;
} = {
  tfjs: async (graph, bound) => TfjsEngine.create(graph, bound),
  onnxruntime: (graph, bound, init) => createOnnxEngine(graph, bound, init.onnxThreads),
};
