/**
 * The ONNX Runtime engine: the spec's graph emitted as ONNX (src/interop/onnx/emit.ts), logits
 * out, run by an ONNX Runtime (CPU) session: NHWC float32 in, the model's one output out. Graph optimisation is at level 'all' (constant folding, Conv+activation fusion,
 * NCHWc layout on x86), which is where ONNX Runtime's speed comes from.
 */
import ort from 'onnxruntime-node';
import { buildOnnxGraph, buildOnnxModel } from '../interop/onnx/emit.js';
import type { BoundWeight, Graph } from '../spec/types.js';
import { quantizeWithCalibration, top1OnSet } from './precision.js';
import type { BuiltEngine, CalibrationSet } from './types.js';

export interface OnnxEngineOptions {
  /** Threads inside one operator (ONNX Runtime's default: one per physical core). */
  intraOpNumThreads?: number;
  /** Threads across independent operators; only used by the 'parallel' execution mode. */
  interOpNumThreads?: number;
  /**
   * Whether idle intra-op threads spin waiting for work (ONNX Runtime's default) instead of sleeping.
   * Spinning wins a little for a lone session; in the server it burns cores that image decoding
   * and the other workers need between batches.
   */
  spinWhenIdle?: boolean;
}

export interface EngineOutput {
  data: Float32Array;
  shape: number[];
}

export class OnnxEngine {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputName: string,
  ) {}

  static async create(modelBytes: Uint8Array, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    const session = await ort.InferenceSession.create(modelBytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
      ...(options.interOpNumThreads === undefined ? {} : { interOpNumThreads: options.interOpNumThreads }),
      ...(options.spinWhenIdle === false
        ? { extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } } }
        : {}),
    });
    if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
      await session.release();
      throw new Error(
        `expected a model with one input and one output, got ${session.inputNames.length} and ${session.outputNames.length}`,
      );
    }
    return new OnnxEngine(session, session.inputNames[0], session.outputNames[0]);
  }

  /** Each calibration image's top-1 under this session. */
  top1(set: CalibrationSet, shape: number[]): Promise<number[]> {
    return top1OnSet(this.session, set, shape);
  }

  /** Runs one batch: `input` is row-major NHWC data of `shape` ([N, H, W, C]). */
  async run(input: Float32Array, shape: number[]): Promise<EngineOutput> {
    const expected = shape.reduce((a, b) => a * b, 1);
    if (input.length !== expected)
      throw new RangeError(`input has ${input.length} values, shape [${shape.join(', ')}] needs ${expected}`);
    const feeds = { [this.inputName]: new ort.Tensor('float32', input, shape) };
    const results = await this.session.run(feeds);
    const y = results[this.outputName];
    return { data: y.data as Float32Array, shape: [...y.dims] };
  }

  /** Frees the native session; the engine cannot run afterwards. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The engine the inference workers serve with: one session over `threads` cores, idle threads
 * asleep. With `int8`, the session runs the int8 model: the one given (`onnx`, built by another
 * worker), or else one calibrated here on the `calibration` images, and then the engine carries it
 * and both precisions' top-1 on those images. `bound` is consumed: its arrays are folded and
 * permuted in place (the worker read them for this build; see InferenceOptions.inPlace).
 */
export async function createOnnxEngine(
  graph: Graph,
  bound: BoundWeight[],
  threads: number,
  int8?: { calibration?: CalibrationSet; onnx?: Uint8Array },
): Promise<BuiltEngine> {
  const calibration = int8?.onnx ? undefined : int8?.calibration;
  let bytes: Uint8Array;
  let fp32Top1: number[] = [];
  if (calibration) {
    ({ bytes, fp32Top1 } = await quantizeWithCalibration(
      buildOnnxGraph(graph, bound, { logits: true, inPlace: true }),
      calibration,
      graph.input,
      threads,
    ));
  } else bytes = int8?.onnx ?? buildOnnxModel(graph, bound, { logits: true, inPlace: true });
  const session = await OnnxEngine.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    spinWhenIdle: false,
  });
  const engine: BuiltEngine['engine'] = {
    kind: 'onnxruntime',
    infer: async (input, n) => (await session.run(input, [n, ...graph.input])).data,
    // A failed release must not become an unhandled rejection (it would kill the worker).
    dispose: () => void session.dispose().catch(() => undefined),
  };
  if (!calibration) return { engine };
  const figures = { images: calibration.n, fp32Top1, top1: await session.top1(calibration, graph.input) };
  return { engine, figures, onnx: bytes };
}
