// ONNX in: the seven torchvision exports (test/fixtures/onnx, opset 13, made by
// scripts/reference/torch_onnx_exports.py) analyse to exactly PyTorch's counts, every conv,
// batch-norm and linear layer by its module path; files arrive over HTTP as a raw body or a
// multipart file; what cannot be mapped is a 422 listing every op type with its nodes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { analyzeTarget } from '../../src/services/analysis.js';
import { readOnnxModel } from '../../src/interop/onnx/read.js';
import { graphFromOnnx } from '../../src/interop/onnx/import.js';
import { buildOnnxModel } from '../../src/interop/onnx/emit.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { ZOO } from '../../models/index.js';
import { analyzeGraph } from '../../src/analysis/analyze.js';
import { fixture } from '../helpers/engine.js';
import { randomWeights } from '../helpers/onnx.js';

const MODELS = ['resnet18', 'resnet50', 'googlenet', 'inception_v3', 'mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0'];
const bytes = (name: string) => new Uint8Array(readFileSync(fixture(`onnx/${name}.graph.onnx`)));

interface Counts {
  params: number;
  buffers: number;
  macs: number;
  input: [number, number, number];
  layers: { path: string; type: string; outputShape: number[]; params: number; buffers: number; macs: number }[];
}

for (const name of MODELS) {
  t.test(`${name}: the exported ONNX graph analyses to PyTorch's counts, layer by layer`, async (t) => {
    const c = JSON.parse(readFileSync(fixture(`onnx/${name}.counts.json`), 'utf8')) as Counts;
    const report = analyzeTarget({ onnx: bytes(name) });
    t.same(report.input, c.input, 'input size from the file');
    t.equal(report.totals.trainableParams, c.params, 'parameters (PyTorch calls the BN statistics buffers)');
    t.equal(report.totals.nonTrainableParams, c.buffers, 'batch-norm running statistics');
    t.equal(report.totals.macs, c.macs, 'MACs');
    const rows = new Map(report.layers.map((r) => [r.name, r]));
    const kind: Record<string, string> = { Conv2d: 'conv2d', BatchNorm2d: 'batchnorm', Linear: 'dense' };
    const wrong = c.layers.filter((l) => {
      const r = rows.get(l.path);
      return !r || r.kind !== kind[l.type] || JSON.stringify([r.outputShape, r.trainableParams, r.nonTrainableParams, r.macs]) !== JSON.stringify([l.outputShape, l.params, l.buffers, l.macs]);
    });
    t.same(wrong.map((l) => l.path), [], `all ${c.layers.length} conv, batch-norm and linear layers, named by their module paths`);
  });
}

t.test('symbolic sizes need an input size; the size given is the one analysed', async (t) => {
  const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
  const file = buildOnnxModel(graph, randomWeights(inferShapes(graph), 1), { foldBatchNorm: false }); // our own export: NHWC input, batch symbolic, BN kept
  const imported = graphFromOnnx(readOnnxModel(file));
  t.same(imported.graph.input, [28, 28, 1], 'our NHWC export reads back with its input');
  t.equal(analyzeGraph(imported.graph).totals.params, analyzeGraph(graph).totals.params, 'and its parameters');
  t.ok(imported.hasWeights);
  const at56 = analyzeTarget({ onnx: file, input: [56, 56, 1] });
  t.same(at56.input, [56, 56, 1]);
  t.equal(at56.totals.macs, 4 * analyzeGraph(graph).totals.macs - 3 * analyzeGraph(graph).layers.filter((r) => r.kind === 'dense').reduce((s, r) => s + r.macs, 0),
    'conv MACs scale with the pixels; the classifier does not');
});

t.test('what cannot be mapped is refused, every op type listed with its nodes', async (t) => {
  const file = bytes('resnet18');
  const model = readOnnxModel(file);
  // Rename two ops to ones we do not map, and put a Softmax over the wrong axis.
  model.nodes[1] = { ...model.nodes[1], opType: 'LpNormalization' };
  model.nodes[2] = { ...model.nodes[2], opType: 'Celu' };
  t.throws(() => graphFromOnnx(model), { code: 'UNSUPPORTED_OPS', statusCode: 422, message: /LpNormalization \(.+\): no mapping; Celu \(.+\): no mapping/ });
  t.throws(() => readOnnxModel(new TextEncoder().encode('not a model at all')), { code: 'INVALID_MODEL_FILE', statusCode: 400 });
});

t.test('over HTTP: raw body, multipart file, query options, and the upload limit', async (t) => {
  const app = await buildApp(testConfig({ modelUploadLimit: 30_000 })); // resnet18's graph is 18.5 KB, resnet50's 47 KB
  t.teardown(() => app.close());
  const resnet18 = Buffer.from(bytes('resnet18'));
  const raw = await app.inject({ method: 'POST', url: '/analyze?batch=4', headers: { 'content-type': 'application/octet-stream' }, payload: resnet18 });
  t.equal(raw.statusCode, 200, raw.body.slice(0, 200));
  t.equal(raw.json().totals.macs, 1_814_073_344);
  t.equal(raw.json().batch, 4);
  const boundary = 'xBOUNDARYx';
  const form = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="input"\r\n\r\n112,112,3\r\n`),
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="resnet18.onnx"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    resnet18,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const multipart = await app.inject({ method: 'POST', url: '/analyze', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: form });
  t.equal(multipart.statusCode, 200, multipart.body.slice(0, 200));
  t.same(multipart.json().input, [112, 112, 3], 'the input field sets the size');
  const big = await app.inject({ method: 'POST', url: '/analyze', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes('resnet50')) });
  t.equal(big.statusCode, 413, 'over MODEL_UPLOAD_LIMIT');
  const jsonTooBig = await app.inject({ method: 'POST', url: '/analyze', payload: { model: 'resnet18', pad: 'x'.repeat(2 * 1024 * 1024) } });
  t.equal(jsonTooBig.statusCode, 413, 'JSON keeps its own, smaller limit');
  const keras = await app.inject({ method: 'POST', url: '/analyze', headers: { 'content-type': 'application/octet-stream' }, payload: readFileSync(fixture('keras-configs/mnist_cnn.sequential.keras2.json')) });
  t.equal(keras.statusCode, 200, 'a Keras config uploaded as a file is read as JSON');
});
