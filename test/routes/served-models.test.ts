// A MODELS_DIR with a torchvision-keyed safetensors model (the minimal config), a Keras H5
// model and a broken one: the broken model is refused with its reason, the others serve, and the
// KServe v2 route returns PyTorch's logits.
import t from 'tap';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { readFileSync } from 'node:fs';
import { servingApp } from '../helpers/app.js';
import { fixture, maxAbs, maxAbsDiff } from '../helpers/engine.js';

const app = await servingApp({ engine: 'auto' }); // the engine choice is tested here
t.teardown(() => app.close());

t.test('every model is accounted for; the broken one is refused, the others are ready', async (t) => {
  const res = await app.inject('/models');
  t.equal(res.statusCode, 200);
  const models = new Map(
    (res.json().models as { name: string; state: string; error?: string }[]).map((m) => [m.name, m]),
  );
  t.equal(models.get('resnet18')?.state, 'ready');
  t.equal(models.get('small-h5')?.state, 'ready');
  t.equal(models.get('broken-truncated')?.state, 'failed');
  t.match(models.get('broken-truncated')?.error, /truncated|cannot be opened|HDF5/i, 'names the reason');
  const ready = await app.inject('/health/ready');
  t.equal(ready.statusCode, 503, 'readiness names the model that is not ready');
  const states = new Map(
    (ready.json().models as { name: string; state: string; engine: string; backend: string | null }[]).map(
      (m) => [m.name, m],
    ),
  );
  t.match(states.get('broken-truncated'), { state: 'failed', backend: null });
  t.match(
    states.get('resnet18'),
    { state: 'ready', engine: /tfjs|onnxruntime/, backend: /wasm|onnxruntime-cpu/ },
    'and lists every model with its engine and backend',
  );
});

t.test('model metadata reports backend, weights hash, key style and costs', async (t) => {
  const m = (await app.inject('/models/resnet18')).json();
  t.equal(
    m.tfjsBackend.name,
    'wasm',
    'tfjs-node cannot install here; wasm is the tfjs backend that actually ran',
  );
  t.match(
    m.tfjsBackend.skipped,
    [{ backend: 'tensorflow' }],
    'and the skipped native backend is reported with its reason',
  );
  t.type(m.engineTimings.msPerImage.tfjs, 'number', 'ENGINE=auto timed tfjs');
  t.type(m.engineTimings.msPerImage.onnxruntime, 'number', 'and ONNX Runtime');
  const faster =
    m.engineTimings.msPerImage.tfjs < m.engineTimings.msPerImage.onnxruntime ? 'tfjs' : 'onnxruntime';
  t.equal(m.engine, faster, 'and serves with the faster one');
  t.equal(m.backend, faster === 'tfjs' ? 'wasm' : 'onnxruntime-cpu');
  t.equal(m.weights.keyStyle, 'torchvision');
  t.equal(m.weights.format, 'safetensors');
  t.match(m.weights.sha256, /^[0-9a-f]{64}$/);
  t.equal(m.macs, 1_814_073_344);
  t.same(m.input, [224, 224, 3]);
  t.equal(m.labels, 1000);
  t.same(m.preprocess.mean, [0.485, 0.456, 0.406], 'torch preset');
  t.equal((await app.inject('/models/nope')).statusCode, 404);
});

t.test('KServe v2 infer returns the logits PyTorch computed', async (t) => {
  const io = readSafetensors(new Uint8Array(readFileSync(fixture('torch/parity/resnet18.io.safetensors'))));
  const input = io.get('input')!;
  const res = await app.inject({
    method: 'POST',
    url: '/v2/models/resnet18/infer',
    payload: {
      id: 'req-1',
      inputs: [{ name: 'images', shape: input.shape, datatype: 'FP32', data: Array.from(input.data) }],
    },
  });
  t.equal(res.statusCode, 200, res.body.slice(0, 200));
  const body = res.json();
  t.equal(body.id, 'req-1', 'request id echoed');
  t.equal(body.model_name, 'resnet18');
  const logits = body.outputs.find((o: { name: string }) => o.name === 'logits');
  const probs = body.outputs.find((o: { name: string }) => o.name === 'probabilities');
  t.same(logits.shape, [2, 1000]);
  const expected = io.get('output')!.data;
  const err = maxAbsDiff(logits.data, expected) / maxAbs(expected);
  t.ok(err < 1e-4, `relative error ${err.toExponential(2)} < 1e-4`);
  const sum = probs.data.slice(0, 1000).reduce((a: number, b: number) => a + b, 0);
  t.ok(Math.abs(sum - 1) < 1e-4, 'probabilities sum to 1');
});

t.test('the Keras H5 weights land in the right layers', async (t) => {
  // conv1_conv kernel value = layerIndex*1000 + weightIndex*100 + flatIndex (see the fixture's README):
  // a single-pixel input of 1 through a 3x3 'same' conv reads kernel centre taps; we check the whole
  // model's output against a direct computation from the fixture values instead.
  const expected = JSON.parse(readFileSync(fixture('keras/small_resnet_like.expected.json'), 'utf8')) as {
    weights: { key: string; shape: number[]; values: number[] }[];
  };
  const w = new Map(expected.weights.map((e) => [e.key, e]));
  const kernel = w.get('conv1_conv/kernel')!.values;
  const bias = w.get('conv1_conv/bias')!.values;
  const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map(
    (k) => w.get(`conv1_bn/${k}`)!.values,
  );
  const dk = w.get('predictions/kernel')!.values;
  const db = w.get('predictions/bias')!.values;
  // Input: all ones, 8x8x1. Conv 'same' 3x3: each output pixel sums the in-bounds taps.
  const feat = new Array(8).fill(0);
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      for (let c = 0; c < 8; c++) {
        let s = bias[c];
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const iy = y + ky - 1;
            const ix = x + kx - 1;
            if (iy >= 0 && iy < 8 && ix >= 0 && ix < 8) s += kernel[(ky * 3 + kx) * 8 + c];
          }
        const bn = (gamma[c] * (s - mean[c])) / Math.sqrt(variance[c] + 1e-3) + beta[c];
        feat[c] += Math.max(bn, 0) / 64;
      }
    }
  const logits = [0, 1, 2].map((j) => db[j] + feat.reduce((s, f, c) => s + f * dk[c * 3 + j], 0));
  const res = await app.inject({
    method: 'POST',
    url: '/v2/models/small-h5/infer',
    payload: {
      inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: new Array(64).fill(1) }],
      outputs: [{ name: 'logits' }],
    },
  });
  t.equal(res.statusCode, 200, res.body);
  const got = res.json().outputs;
  t.equal(got.length, 1, 'only the requested output');
  const err = maxAbsDiff(got[0].data, logits) / maxAbs(logits);
  t.ok(
    err < 1e-4,
    `H5 model output matches a hand computation from the fixture values (rel err ${err.toExponential(2)})`,
  );
});

t.test('KServe errors use {"error"} and the right status', async (t) => {
  const bad = async (url: string, payload: unknown, status: number, pattern: RegExp) => {
    const res = await app.inject({ method: 'POST', url, payload: payload as object });
    t.equal(res.statusCode, status, `${url} ${JSON.stringify(payload).slice(0, 60)}`);
    t.match(res.json(), { error: pattern });
    t.notOk('statusCode' in res.json(), 'protocol error body, not the app one');
  };
  await bad(
    '/v2/models/small-h5/infer',
    { inputs: [{ name: 'x', shape: [1, 4, 4, 1], datatype: 'FP32', data: new Array(16).fill(0) }] },
    400,
    /expected \[N, 8, 8, 1\]/,
  );
  await bad(
    '/v2/models/small-h5/infer',
    { inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: [1, 2] }] },
    400,
    /expected 64 elements/,
  );
  await bad(
    '/v2/models/small-h5/infer',
    { inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'INT8', data: [] }] },
    400,
    /datatype/,
  );
  await bad(
    '/v2/models/small-h5/infer',
    {
      inputs: [
        { name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: new Array(63).fill(0).concat(['a']) },
      ],
    },
    400,
    /finite FP32 numbers/,
  );
  await bad(
    '/v2/models/nope/infer',
    { inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: [] }] },
    404,
    /expected one of/,
  );
  await bad(
    '/v2/models/broken-truncated/infer',
    { inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: new Array(64).fill(0) }] },
    503,
    /failed/,
  );
  const meta = (await app.inject('/v2/models/small-h5')).json();
  t.same(meta.inputs[0].shape, [-1, 8, 8, 1]);
  t.equal((await app.inject('/v2/models/small-h5/ready')).statusCode, 200);
  t.equal((await app.inject('/v2/models/broken-truncated/ready')).statusCode, 503);
  t.equal((await app.inject('/v2/health/live')).statusCode, 200);
  t.equal((await app.inject('/v2/health/ready')).statusCode, 503, 'a refused model keeps the server unready');
  t.same((await app.inject('/v2')).json().name, 'convnet-serve');
});

t.test(
  'GET /models/{name}/model.onnx exports a graph ONNX Runtime runs to the same probabilities',
  async (t) => {
    const res = await app.inject('/models/small-h5/model.onnx');
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-disposition'], /small-h5\.onnx/);
    const { OnnxEngine } = await import('../../src/engines/onnxruntime.js');
    const engine = await OnnxEngine.create(new Uint8Array(res.rawPayload));
    const input = new Float32Array(64).map((_, i) => (i % 7) / 7);
    const out = await engine.run(input, [1, 8, 8, 1]);
    await engine.dispose();
    const served = await app.inject({
      method: 'POST',
      url: '/v2/models/small-h5/infer',
      payload: {
        inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: Array.from(input) }],
        outputs: [{ name: 'probabilities' }],
      },
    });
    const probs = served.json().outputs[0].data as number[];
    t.ok(
      maxAbsDiff(out.data, probs) < 1e-5,
      'the exported model includes the softmax and matches the served probabilities',
    );
    t.equal((await app.inject('/models/broken-truncated/model.onnx')).statusCode, 503);
  },
);

t.test('a worker that dies is replaced and reloaded; readiness says so meanwhile', async (t) => {
  const pool = app.pool as unknown as {
    workers: { worker: { terminate(): Promise<number> } }[];
    liveWorkers: number;
  };
  await pool.workers[0].worker.terminate();
  const during = await app.inject('/health/ready');
  t.equal(during.statusCode, 503, 'no live worker: not ready');
  t.match(during.json().reason, /no inference worker/);
  for (let i = 0; i < 600 && app.pool.liveWorkers === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal(app.pool.liveWorkers, 1, 'the replacement is serving');
  const res = await app.inject({
    method: 'POST',
    url: '/v2/models/small-h5/infer',
    payload: {
      inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: new Array(64).fill(0.5) }],
    },
  });
  t.equal(res.statusCode, 200, 'and has the models again');
});
