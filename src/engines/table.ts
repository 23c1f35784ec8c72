/**
 * The engines, one entry each: how a worker builds a model's engine from its graph and bound
 * weights, which the build may consume (the worker read them from the file for this build alone:
 * ONNX Runtime's rewrites them in place). `EngineKind` lists them; ENGINE=auto times every one at warm-up and serves the fastest.
 */
import type { BoundWeight, Graph } from '../spec/types.js';
import { createOnnxEngine } from './onnxruntime.js';
import { TfjsEngine } from './tfjs/engine.js';
import type { BuiltEngine, EngineKind, ModelPlan, WorkerInit } from './types.js';

export const ENGINES: {
  [E in EngineKind]: (
    graph: Graph,
    bound: BoundWeight[],
    init: WorkerInit,
    plan: Pick<ModelPlan, 'precision' | 'calibration' | 'onnx'>,
  ) => Promise<BuiltEngine>;
} = {
  tfjs: async (graph, bound, _init, plan) => {
    // The loader never sends this (src/serving/load-version.ts refuses first); a plan that did must not be served as fp32.
    if (plan.precision) throw new Error(`tfjs computes in fp32 only; ${plan.precision} needs ONNX Runtime`);
    return { engine: await TfjsEngine.create(graph, bound) };
  },
  onnxruntime: (graph, bound, init, plan) => {
    if (plan.precision === 'int8' && !plan.onnx && !plan.calibration?.n)
      throw new Error(
        'int8 needs calibration images to set its ranges and to measure its agreement with fp32',
      );
    return createOnnxEngine(graph, bound, init.onnxThreads, plan.precision === 'int8' ? plan : undefined);
  },
};
