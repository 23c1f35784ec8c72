// ONNX in: the seven torchvision exports (test/fixtures/onnx, opset 13, made by
// scripts/reference/torch_onnx_exports.py) analyse to exactly PyTorch's counts, every conv,
// batch-norm and linear layer by its module path; files arrive over HTTP as a raw body or a
// multipart file; what cannot be mapped is a 422 listing every op type with its nodes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { buildApp } from '../../../src/app.js';
import { testConfig } from '../../../src/config.js';
import { analyzeTarget } from '../../../src/services/analysis.js';
import { readOnnxModel } from '../../../src/interop/onnx/read.js';
import { graphFromOnnx } from '../../../src/interop/onnx/import.js';
import { buildOnnxModel } from '../../../src/interop/onnx/emit.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import { ZOO } from '../../../models/index.js';
import { analyzeGraph } from '../../../src/analysis/analyze.js';
import { fixture } from '../../helpers/engine.js';
import { relativeError, runOnnx, runTfjs } from '../../helpers/onnx.js';
import { randomInput, randomWeights, rng } from '../../../bench/lib/random.js';
import { attr, DataType, encodeModel } from '../../../src/interop/onnx/model.js';
import { OnnxEngine as Session } from '../../../src/engines/onnxruntime.js';
import { permute } from '../../../src/weights/permute.js';
import { backendReady } from '../../helpers/engine.js';

/** ONNX Runtime on a file as it is (NCHW input), the independent side. */
class OnnxEngine {
  constructor(private readonly session: Session) {}
  static create = (bytes: Uint8Array) => Session.create(bytes);
  async run(x: { shape: number[]; data: Float32Array }): Promise<Float32Array> {
    const out = (await this.session.run(x.data, x.shape)).data;
    await this.session.dispose();
    return out;
  }
}

t.before(async () => {
  await backendReady();
});

const MODELS = [
  'resnet18',
  'resnet50',
  'googlenet',
  'inception_v3',
  'mobilenet_v2',
  'mobilenet_v3_small',
  'efficientnet_b0',
];
const bytes = (name: string) => new Uint8Array(readFileSync(fixture(`onnx/${name}.graph.onnx`)));

interface Counts {
  params: number;
  buffers: number;
  macs: number;
  input: [number, number, number];
  layers: {
    path: string;
    type: string;
    outputShape: number[];
    params: number;
    buffers: number;
    macs: number;
  }[];
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
      return (
        !r ||
        r.kind !== kind[l.type] ||
        JSON.stringify([r.outputShape, r.trainableParams, r.nonTrainableParams, r.macs]) !==
          JSON.stringify([l.outputShape, l.params, l.buffers, l.macs])
      );
    });
    t.same(
      wrong.map((l) => l.path),
      [],
      `all ${c.layers.length} conv, batch-norm and linear layers, named by their module paths`,
    );
  });
}

t.test('symbolic sizes need an input size; the size given is the one analysed', async (t) => {
  const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
  const file = buildOnnxModel(graph, randomWeights(inferShapes(graph), 1), { foldBatchNorm: false }); // our own export: NHWC input, batch symbolic, BN kept
  const imported = graphFromOnnx(readOnnxModel(file));
  t.same(imported.graph.input, [28, 28, 1], 'our NHWC export reads back with its input');
  t.equal(
    analyzeGraph(imported.graph).totals.params,
    analyzeGraph(graph).totals.params,
    'and its parameters',
  );
  t.ok(imported.hasWeights);
  const at56 = analyzeTarget({ onnx: file, input: [56, 56, 1] });
  t.same(at56.input, [56, 56, 1]);
  t.equal(
    at56.totals.macs,
    4 * analyzeGraph(graph).totals.macs -
      3 *
        analyzeGraph(graph)
          .layers.filter((r) => r.kind === 'dense')
          .reduce((s, r) => s + r.macs, 0),
    'conv MACs scale with the pixels; the classifier does not',
  );
});

t.test('what cannot be mapped is refused, every op type listed with its nodes', async (t) => {
  const file = bytes('resnet18');
  const model = readOnnxModel(file);
  // Rename two ops to ones we do not map, and put a Softmax over the wrong axis.
  model.nodes[1] = { ...model.nodes[1], opType: 'LpNormalization' };
  model.nodes[2] = { ...model.nodes[2], opType: 'Celu' };
  t.throws(() => graphFromOnnx(model), {
    code: 'UNSUPPORTED_OPS',
    statusCode: 422,
    message: /LpNormalization \(.+\): no mapping; Celu \(.+\): no mapping/,
  });
  t.throws(() => readOnnxModel(new TextEncoder().encode('not a model at all')), {
    code: 'INVALID_MODEL_FILE',
    statusCode: 400,
  });
});

t.test('over HTTP: raw body, multipart file, query options, and the upload limit', async (t) => {
  const app = await buildApp(testConfig({ modelUploadLimit: 30_000 })); // resnet18's graph is 18.5 KB, resnet50's 47 KB
  t.teardown(() => app.close());
  const resnet18 = Buffer.from(bytes('resnet18'));
  const raw = await app.inject({
    method: 'POST',
    url: '/analyze?batch=4',
    headers: { 'content-type': 'application/octet-stream' },
    payload: resnet18,
  });
  t.equal(raw.statusCode, 200, raw.body.slice(0, 200));
  t.equal(raw.json().totals.macs, 1_814_073_344);
  t.equal(raw.json().batch, 4);
  const boundary = 'xBOUNDARYx';
  const form = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="input"\r\n\r\n112,112,3\r\n`),
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="resnet18.onnx"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    resnet18,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const multipart = await app.inject({
    method: 'POST',
    url: '/analyze',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: form,
  });
  t.equal(multipart.statusCode, 200, multipart.body.slice(0, 200));
  t.same(multipart.json().input, [112, 112, 3], 'the input field sets the size');
  const big = await app.inject({
    method: 'POST',
    url: '/analyze',
    headers: { 'content-type': 'application/octet-stream' },
    payload: Buffer.from(bytes('resnet50')),
  });
  t.equal(big.statusCode, 413, 'over MODEL_UPLOAD_LIMIT');
  const jsonTooBig = await app.inject({
    method: 'POST',
    url: '/analyze',
    payload: { model: 'resnet18', pad: 'x'.repeat(2 * 1024 * 1024) },
  });
  t.equal(jsonTooBig.statusCode, 413, 'JSON keeps its own, smaller limit');
  const keras = await app.inject({
    method: 'POST',
    url: '/analyze',
    headers: { 'content-type': 'application/octet-stream' },
    payload: readFileSync(fixture('keras-configs/mnist_cnn.sequential.keras2.json')),
  });
  t.equal(keras.statusCode, 200, 'a Keras config uploaded as a file is read as JSON');
});

t.test('training costs of an uploaded file: query options or multipart fields', async (t) => {
  const app = await buildApp(testConfig());
  t.teardown(() => app.close());
  const resnet18 = Buffer.from(bytes('resnet18'));
  const upload = (url: string, payload: Buffer = resnet18, type = 'application/octet-stream') =>
    app.inject({ method: 'POST', url, headers: { 'content-type': type }, payload });
  const raw = await upload('/analyze?training=sgd&trainingBatch=2&layers=none');
  t.equal(raw.statusCode, 200, raw.body.slice(0, 300));
  const expected = analyzeTarget(
    { onnx: bytes('resnet18') },
    { training: { optimizer: 'sgd', batch: 2 } },
  ).training;
  t.same(raw.json().training, expected, 'what the analyzer gives for the same file and options');
  t.equal(raw.json().training.batch, 2);
  t.equal(raw.json().training.bytes.optimizerState, 0, 'plain SGD keeps no state');
  t.equal(raw.json().training.bytes.gradients, 4 * raw.json().totals.trainableParams);
  const onlyBatch = await upload('/analyze?trainingBatch=3&layers=none');
  t.equal(
    onlyBatch.json().training.optimizer,
    'adam',
    'a training batch alone implies the default optimizer',
  );
  t.notOk((await upload('/analyze?layers=none')).json().training, 'no section unless asked');

  const boundary = 'xBOUNDARYx';
  const form = (fields: Record<string, string>) =>
    Buffer.concat([
      ...Object.entries(fields).map(([k, v]) =>
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`),
      ),
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="r.onnx"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      resnet18,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
  const multipartType = `multipart/form-data; boundary=${boundary}`;
  const fields = await upload(
    '/analyze?layers=none',
    form({ training: 'momentum', batch: '4' }),
    multipartType,
  );
  t.equal(fields.statusCode, 200, fields.body.slice(0, 300));
  t.match(fields.json().training, { optimizer: 'momentum', batch: 4 }, 'the batch is the analysis batch');

  const badOptimizer = await upload('/analyze?layers=none', form({ training: 'rmsprop' }), multipartType);
  t.equal(badOptimizer.statusCode, 400);
  t.match(badOptimizer.json(), { field: 'training', received: 'rmsprop', expected: 'sgd | momentum | adam' });
  const typo = await upload('/analyze?layers=none', form({ trainig: 'adam' }), multipartType);
  t.equal(typo.statusCode, 400, 'an unknown field is refused, not ignored');
  t.match(typo.json(), {
    field: 'trainig',
    message: /expected one of file, input, batch, training, trainingBatch/,
  });
  const badBatch = await upload('/analyze?layers=none', form({ trainingBatch: '0' }), multipartType);
  t.match(badBatch.json(), { field: 'trainingBatch', received: '0' });
  const json = await app.inject({
    method: 'POST',
    url: '/analyze?training=adam',
    payload: { model: 'resnet18' },
  });
  t.equal(json.statusCode, 400, 'query options for files are not silently ignored beside a JSON body');
  t.match(json.json(), { field: 'training', message: /a JSON body carries its own/ });
});

t.test(
  'shape arithmetic folded, channel-major flatten reordered: the imported graph computes what ONNX Runtime computes on the file',
  async (t) => {
    const next = rng(11);
    const floats = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);
    const int64s = (values: number[]) => BigInt64Array.from(values.map(BigInt));
    // x [N, 3, 6, 5] → Conv 4×3×3 (pads 1) → ReLU → Reshape to [N, -1] with the target computed from Shape
    // (Shape → Gather 0 → Unsqueeze → Concat with [-1]) → Gemm (transB) → Sub a per-class constant.
    const file = encodeModel({
      graph: {
        name: 'folded',
        nodes: [
          {
            op: 'Conv',
            inputs: ['x', 'w', 'b'],
            outputs: ['conv'],
            name: 'conv',
            attributes: [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [1, 1, 1, 1])],
          },
          { op: 'Relu', inputs: ['conv'], outputs: ['relu'], name: 'relu' },
          { op: 'Shape', inputs: ['relu'], outputs: ['shape'], name: 'shape' },
          {
            op: 'Gather',
            inputs: ['shape', 'zero'],
            outputs: ['n'],
            name: 'gather',
            attributes: [attr.int('axis', 0)],
          },
          { op: 'Unsqueeze', inputs: ['n', 'axes'], outputs: ['n1'], name: 'unsqueeze' },
          {
            op: 'Concat',
            inputs: ['n1', 'minus1'],
            outputs: ['target'],
            name: 'concat',
            attributes: [attr.int('axis', 0)],
          },
          { op: 'Reshape', inputs: ['relu', 'target'], outputs: ['flat'], name: 'reshape' },
          {
            op: 'Gemm',
            inputs: ['flat', 'fc_w', 'fc_b'],
            outputs: ['fc'],
            name: 'fc',
            attributes: [attr.int('transB', 1)],
          },
          { op: 'Sub', inputs: ['fc', 'shift'], outputs: ['y'], name: 'shift' },
        ],
        initializers: [
          { name: 'w', dims: [4, 3, 3, 3], data: floats(108, 0.5) },
          { name: 'b', dims: [4], data: floats(4, 0.1) },
          { name: 'zero', dims: [], data: int64s([0]) },
          { name: 'axes', dims: [1], data: int64s([0]) },
          { name: 'minus1', dims: [1], data: int64s([-1]) },
          { name: 'fc_w', dims: [7, 4 * 6 * 5], data: floats(7 * 120, 0.2) },
          { name: 'fc_b', dims: [7], data: floats(7, 0.1) },
          { name: 'shift', dims: [7], data: floats(7, 1) },
        ],
        inputs: [{ name: 'x', elemType: DataType.FLOAT, dims: ['N', 3, 6, 5] }],
        outputs: [{ name: 'y', elemType: DataType.FLOAT, dims: ['N', 7] }],
      },
    });
    const imported = graphFromOnnx(readOnnxModel(file));
    t.same(
      imported.graph.nodes.map((n) => n.kind),
      ['conv2d', 'activation', 'flatten', 'dense', 'rescaling'],
      'the shape arithmetic left no layers',
    );
    const x = randomInput([2, 3, 6, 5], 12); // NCHW, for the original file
    const reference = await new OnnxEngine(await OnnxEngine.create(file)).run(x);
    const nhwc = { shape: [2, 6, 5, 3], data: permute(x.data, x.shape, [0, 2, 3, 1]).data };
    for (const [engine, got] of [
      ['ONNX Runtime', (await runOnnx(imported.graph, imported.weights(), nhwc)).data],
      ['tfjs', await runTfjs(imported.graph, imported.weights(), nhwc)],
    ] as const) {
      const err = relativeError(got, reference);
      t.ok(
        err < 1e-5,
        `${engine} on the imported graph = ONNX Runtime on the file (${err.toExponential(2)})`,
      );
    }
  },
);
