/**
 * Reduced precision on ONNX Runtime: the int8 model of an fp32 graph, calibrated on images the
 * model folder provides, with the top-1 of both precisions on those images so the caller can judge
 * what int8 costs (src/serving/precision.ts). And bf16's answer on this ONNX Runtime, probed, not assumed.
 */
import ort from 'onnxruntime-node';
import { attr, DataType, encodeModel, type ModelDef } from '../interop/onnx/model.js';
import { planQuantization, quantizeModel, withOutputs, type Range } from '../interop/onnx/quantize.js';
import type { CalibrationSet } from './types.js';
import { int8WeightLimit } from './int8-weights.js';

const BATCH = 16;

function argmax(logits: Float32Array, row: number, classes: number): number {
  let best = 0;
  for (let c = 1; c < classes; c++) if (logits[row * classes + c] > logits[row * classes + best]) best = c;
  return best;
}

/** Runs `session` over the set in batches; `each` sees every batch's outputs. */
async function overSet(
  session: ort.InferenceSession,
  set: CalibrationSet,
  shape: number[],
  each: (out: ort.InferenceSession.OnnxValueMapType, n: number) => void,
): Promise<void> {
  const per = shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < set.n; i += BATCH) {
    const n = Math.min(BATCH, set.n - i);
    const x = new ort.Tensor('float32', set.input.subarray(i * per, (i + n) * per), [n, ...shape]);
    each(await session.run({ [session.inputNames[0]]: x }), n);
  }
}

const top1Of = (logits: Float32Array, n: number) => {
  const classes = logits.length / n;
  return Array.from({ length: n }, (_, r) => argmax(logits, r, classes));
};

/**
 * The int8 QDQ model bytes of `fp32` (src/interop/onnx/quantize.ts), its activation ranges the
 * min/max that the fp32 model produced on `set`, and the fp32 top-1 of each image of the set.
 */
export async function quantizeWithCalibration(
  fp32: ModelDef,
  set: CalibrationSet,
  inputShape: number[],
  threads: number,
): Promise<{ bytes: Uint8Array; fp32Top1: number[] }> {
  if (set.n === 0) throw new Error('int8 needs at least one calibration image');
  const plan = planQuantization(fp32);
  const inputName = fp32.graph.inputs[0].name;
  const logitsName = fp32.graph.outputs[0].name;
  const session = await ort.InferenceSession.create(encodeModel(withOutputs(fp32, plan.calibrate)), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
  });
  const ranges = new Map<string, Range>();
  const observe = (name: string, data: ArrayLike<number>) => {
    const r = ranges.get(name) ?? { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      // ±∞ (a max pool's explicit −∞ padding) saturates to the range's end, which is all a max needs.
      if (v < r.min && v !== Number.NEGATIVE_INFINITY) r.min = v;
      if (v > r.max && v !== Number.POSITIVE_INFINITY) r.max = v;
    }
    ranges.set(name, r);
  };
  const fp32Top1: number[] = [];
  try {
    const per = inputShape.reduce((a, b) => a * b, 1);
    let done = 0;
    await overSet(session, set, inputShape, (out, n) => {
      if (plan.calibrate.includes(inputName))
        observe(inputName, set.input.subarray(done * per, (done + n) * per));
      for (const v of plan.calibrate) if (v !== inputName) observe(v, out[v].data as Float32Array);
      fp32Top1.push(...top1Of(out[logitsName].data as Float32Array, n));
      done += n;
    });
  } finally {
    await session.release();
  }
  return { bytes: encodeModel(quantizeModel(fp32, plan, ranges, int8WeightLimit())), fp32Top1 };
}

/** Each calibration image's top-1 under `session` (the int8 model being loaded). */
export async function top1OnSet(
  session: ort.InferenceSession,
  set: CalibrationSet,
  inputShape: number[],
): Promise<number[]> {
  const top1: number[] = [];
  await overSet(session, set, inputShape, (out, n) =>
    top1.push(...top1Of(out[session.outputNames[0]].data as Float32Array, n)),
  );
  return top1;
}

/**
 * Why this ONNX Runtime cannot compute a convolution in bfloat16 on the CPU, or undefined if it can.
 * Probed with a one-Conv bf16 graph (opset 22, the first whose Conv admits bfloat16): ONNX Runtime
 * 1.30's CPU provider has no such kernel on x86 (its one bf16 switch,
 * mlas.enable_gemm_fastmath_arm64_bfloat16, is ARM64-only), whatever the CPU offers.
 */
export async function bf16ConvUnsupported(): Promise<string | undefined> {
  const model: ModelDef = {
    opset: 22,
    graph: {
      name: 'bf16_probe',
      nodes: [
        { op: 'Cast', inputs: ['x'], outputs: ['xb'], attributes: [attr.int('to', DataType.BFLOAT16)] },
        { op: 'Cast', inputs: ['w'], outputs: ['wb'], attributes: [attr.int('to', DataType.BFLOAT16)] },
        {
          op: 'Conv',
          inputs: ['xb', 'wb'],
          outputs: ['yb'],
          attributes: [attr.ints('kernel_shape', [1, 1])],
        },
        { op: 'Cast', inputs: ['yb'], outputs: ['y'], attributes: [attr.int('to', DataType.FLOAT)] },
      ],
      initializers: [{ name: 'w', dims: [1, 1, 1, 1], data: Float32Array.of(1) }],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, dims: [1, 1, 2, 2] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, dims: [1, 1, 2, 2] }],
    },
  };
  try {
    const session = await ort.InferenceSession.create(encodeModel(model), { executionProviders: ['cpu'] });
    await session.release();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
