// The int8 QDQ graph of src/interop/onnx/quantize.ts: its arithmetic against closed forms, and on a
// default model that ONNX Runtime fuses every quantized operator into an integer kernel (no float
// convolution left) and that int8 agrees with fp32 on the model's calibration images.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { ZOO } from '../../../models/index.js';
import { OnnxEngine } from '../../../src/engines/onnxruntime.js';
import { quantizeWithCalibration } from '../../../src/engines/precision.js';
import { readModelWeights } from '../../../src/interop/model-files.js';
import { buildOnnxGraph, buildOnnxModel } from '../../../src/interop/onnx/emit.js';
import {
  activationParams,
  planQuantization,
  quantizePerChannel,
} from '../../../src/interop/onnx/quantize.js';
import { readOnnxModel } from '../../../src/interop/onnx/read.js';
import { readLabels, readModelConfig, resolvePreprocess } from '../../../src/serving/model-config.js';
import { readCalibrationSet } from '../../../src/serving/precision.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import { bindWeights } from '../../../src/weights/bind.js';
import { defined } from '../../../src/invariant.js';

const MODELS = fileURLToPath(new URL('../../../models/', import.meta.url));

t.test(
  'per-channel int8 weights: each channel scaled to its own largest |w|, error at most half a step',
  async (t) => {
    // Two output channels of three weights: the second 100x smaller keeps its precision.
    const w = Float32Array.of(0.4, -1, 0.3, 0.004, -0.01, 0.003);
    const { q, scales } = quantizePerChannel(w, 2);
    t.same([...q], [51, -127, 38, 51, -127, 38], 'round(w / (max|w| / 127)) per channel');
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.abs(b); // float32 storage
    t.ok(close(scales[0], 1 / 127) && close(scales[1], 0.01 / 127), 'scale = max|w| / 127');
    for (let i = 0; i < w.length; i++)
      t.ok(Math.abs(q[i] * scales[i < 3 ? 0 : 1] - w[i]) <= scales[i < 3 ? 0 : 1] / 2);
  },
);

t.test(
  'int8 weights within +-64 where the CPU has no VNNI (products summed in pairs saturate)',
  async (t) => {
    const w = Float32Array.of(0.4, -1, 0.3);
    const { q, scales } = quantizePerChannel(w, 1, 64);
    t.same([...q], [26, -64, 19], 'round(w / (max|w| / 64))');
    t.ok(Math.abs(scales[0] - 1 / 64) <= 1e-6, 'scale = max|w| / 64');
    // The worst pair vpmaddubsw adds in 16 bits: two uint8 activations of 255 by the largest weight.
    t.ok(2 * 255 * Math.max(...[...q].map(Math.abs)) <= 32_767, 'the pair fits in int16');
  },
);

t.test('uint8 activation parameters: 0 exact, the range covered', async (t) => {
  for (const [min, max] of [
    [-1, 3],
    [0, 6],
    [0.5, 2], // widened to include 0
    [-4, -1],
  ]) {
    const { scale, zeroPoint } = activationParams({ min, max });
    const lo = Math.min(0, min);
    const hi = Math.max(0, max);
    t.ok(Math.abs(scale - (hi - lo) / 255) < 1e-12, `[${min}, ${max}] scale`);
    t.ok(Number.isInteger(zeroPoint) && zeroPoint >= 0 && zeroPoint <= 255, 'zero point in uint8');
    t.ok(Math.abs((0 - zeroPoint) * scale - lo) <= scale / 2 + 1e-12, 'code 0 is the range minimum');
    t.ok(Math.abs((255 - zeroPoint) * scale - hi) <= scale / 2 + 1e-12, 'code 255 is the range maximum');
  }
  t.same(activationParams({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 }, 'an all-zero tensor');
});

/** What each default model's joins become: residual additions, Inception's concatenations. */
const JOINS = { 'fashion-resnet': ['QLinearAdd', 5], 'fashion-inception': ['QLinearConcat', 4] } as const;

for (const [name, [join, joins]] of Object.entries(JOINS))
  t.test(`${name} in int8: fused by ONNX Runtime, agrees with fp32 on its calibration images`, async (t) => {
    const dir = path.join(MODELS, name);
    const config = await readModelConfig(dir);
    const graph = normalizeSpec(defined(ZOO.get(String(config.architecture)), 'the zoo entry').build());
    const { bound } = bindWeights(
      inferShapes(graph),
      (await readModelWeights(path.join(dir, config.weights))).tensors,
    );
    const fp32 = buildOnnxGraph(graph, bound, { logits: true });
    const calibration = config.calibration ?? { images: 'calibration' };
    const labels = await readLabels(path.join(dir, 'labels.txt'), 10);
    const p = resolvePreprocess(config, graph.input);
    const all = (await readCalibrationSet(dir, calibration, p, labels)).set;
    // A handful of the images keeps the test quick; the load-time check uses all of them.
    const n = 32;
    const set = { input: all.input.subarray(0, (n * all.input.length) / all.n), n };

    const plan = planQuantization(fp32);
    const convs = fp32.graph.nodes.filter((n) => n.op === 'Conv').length;
    t.ok(plan.calibrate.includes('input'), 'the graph input is quantized once, at the start');

    const { bytes, fp32Top1 } = await quantizeWithCalibration(fp32, set, graph.input, 2);
    const scratch = mkdtempSync(path.join(tmpdir(), 'quantize-'));
    t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
    const optimized = path.join(scratch, 'int8.onnx');
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: optimized,
      logSeverityLevel: 3,
    });
    await session.release();
    const ops = readOnnxModel(readFileSync(optimized)).nodes.map((n) => n.opType);
    const count = (op: string) => ops.filter((o) => o === op).length;
    t.equal(count('QLinearConv'), convs, `all ${convs} convolutions run as QLinearConv`);
    t.equal(count(join), joins, `the ${joins} joins run as ${join}`);
    t.equal(count('QLinearGlobalAveragePool'), 1);
    t.same(
      ops.filter((o) => /^(Conv|FusedConv|Add|Concat|Relu|GlobalAveragePool)$/.test(o)),
      [],
      'no float convolution, join or ReLU is left',
    );
    t.equal(count('QuantizeLinear'), 1, 'one quantization (the input) and');
    t.equal(count('DequantizeLinear'), 1, 'one dequantization (before the fp32 classifier)');

    const engine = await OnnxEngine.create(bytes, { intraOpNumThreads: 1 });
    const int8Top1 = await engine.top1(set, graph.input);
    await engine.dispose();
    const agree = int8Top1.filter((c, i) => c === fp32Top1[i]).length / set.n;
    t.ok(agree >= 0.99, `int8 top-1 agrees with fp32 on ${(100 * agree).toFixed(1)}% of ${set.n} images`);

    // fp32Top1 is the fp32 model's own answer, not a by-product of calibration's extra outputs.
    const reference = await OnnxEngine.create(buildOnnxModel(graph, bound, { logits: true }), {
      intraOpNumThreads: 1,
    });
    t.same(await reference.top1(set, graph.input), fp32Top1, 'fp32 top-1 as the fp32 model answers');
    await reference.dispose();
  });
