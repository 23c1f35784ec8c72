/** The ONNX Runtime engine behind the InferenceEngine interface: the spec's graph built as ONNX, logits out. */
import { buildOnnxModel } from '../interop/onnx/emit.js';
import { OnnxEngine } from './onnxruntime.js';
import type { Graph } from '../spec/types.js';
import type { BoundWeight } from '../weights/bind.js';
import type { InferenceEngine } from './types.js';

export async function createOnnxEngine(graph: Graph, bound: BoundWeight[], threads: number): Promise<InferenceEngine> {
  const session = await OnnxEngine.create(buildOnnxModel(graph, bound, { logits: true }), { intraOpNumThreads: threads, interOpNumThreads: 1, spinWhenIdle: false });
  return {
    kind: 'onnxruntime',
    infer: async (input, n) => (await session.run(input, [n, ...graph.input])).data,
    // A failed release must not become an unhandled rejection (it would kill the worker).
    dispose: () => void session.dispose().catch(() => undefined),
  };
}
