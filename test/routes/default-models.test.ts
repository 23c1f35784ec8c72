// The shipped default models, served from the repo's models/ folder as `npm start` serves them:
// they really classify (a committed sample of 300 Fashion-MNIST test images, ≥ 92% through
// /classify), the three input forms agree, the served logits equal PyTorch's, and 1,000 requests
// leak no tensors and grow no memory.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { DEFAULT_MODELS_DIR } from '../../src/config.js';
import { servingApp } from '../helpers/app.js';
import { fixture, maxAbs, maxAbsDiff } from '../helpers/engine.js';

const app = await servingApp({ modelsDir: DEFAULT_MODELS_DIR, workers: 2 });
t.teardown(() => app.close());

const index = JSON.parse(readFileSync(fixture('fashion/index.json'), 'utf8')) as {
  file: string;
  label: number;
  labelName: string;
}[];
const reference = JSON.parse(readFileSync(fixture('fashion/reference.json'), 'utf8'));
const png = (file: string) => readFileSync(fixture(`fashion/${file}`));

t.test('both default models are ready, fashion-resnet is the default', async (t) => {
  const body = (await app.inject('/models')).json();
  t.equal(body.default, 'fashion-resnet');
  t.same(body.models.map((m: { name: string; state: string }) => [m.name, m.state]).sort(), [
    ['fashion-inception', 'ready'],
    ['fashion-resnet', 'ready'],
  ]);
  t.equal((await app.inject('/health/ready')).statusCode, 200);
  for (const m of body.models) {
    t.equal(
      m.weights.sha256,
      reference.models[m.name].weightsSha256,
      `${m.name}: the committed weights are the ones the PyTorch reference was computed with`,
    );
  }
});

for (const model of ['fashion-resnet', 'fashion-inception']) {
  t.test(`${model} classifies the 300 committed test images at >= 92% through /classify`, async (t) => {
    let correct = 0;
    for (let i = 0; i < index.length; i += 16) {
      const chunk = index.slice(i, i + 16);
      const res = await app.inject({
        method: 'POST',
        url: '/classify',
        payload: {
          model,
          topk: 1,
          images: chunk.map((e) => ({ b64: png(e.file).toString('base64'), name: e.file })),
        },
      });
      t.equal(res.statusCode, 200);
      res.json().results.forEach((r: { predictions: { index: number; label: string }[] }, j: number) => {
        if (r.predictions[0].index === chunk[j].label) correct++;
        if (r.predictions[0].index === chunk[j].label)
          t.equal(r.predictions[0].label, chunk[j].labelName, 'labels come from labels.txt');
      });
    }
    const accuracy = correct / index.length;
    t.ok(accuracy >= 0.92, `${model}: ${correct}/${index.length} = ${(100 * accuracy).toFixed(1)}%`);
    const pytorch = reference.models?.[model] ?? reference[model];
    if (pytorch?.accuracy300 !== undefined || pytorch?.accuracy !== undefined) {
      t.ok(
        Math.abs(accuracy - (pytorch.accuracy300 ?? pytorch.accuracy)) <= 0.01,
        'within a point of PyTorch on the same 300 images',
      );
    }
  });
}

t.test('the three input forms give identical results', async (t) => {
  const file = index[0].file;
  const bytes = png(file);
  const boundary = 'forms';
  const multipart = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${file}"\r\nContent-Type: image/png\r\n\r\n`,
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const forms = await Promise.all([
    app.inject({
      method: 'POST',
      url: '/classify?topk=10',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      payload: multipart,
    }),
    app.inject({
      method: 'POST',
      url: '/classify?topk=10',
      headers: { 'content-type': 'image/png' },
      payload: bytes,
    }),
    app.inject({
      method: 'POST',
      url: '/classify',
      payload: { topk: 10, images: [{ b64: bytes.toString('base64') }] },
    }),
  ]);
  const predictions = forms.map((r) => {
    t.equal(r.statusCode, 200);
    return r.json().results[0].predictions;
  });
  t.same(predictions[1], predictions[0], 'raw body = multipart');
  t.same(predictions[2], predictions[0], 'base64 JSON = multipart');
  t.equal(predictions[0][0].label, index[0].labelName, `${file} is a ${index[0].labelName}`);
});

t.test('served logits equal PyTorch eval-mode logits for the reference images', async (t) => {
  for (const model of ['fashion-resnet', 'fashion-inception']) {
    const ref = reference.models?.[model] ?? reference[model];
    const logits: Record<string, number[]> | { file: string; logits: number[] }[] =
      ref.logits ?? ref.first20Logits;
    const entries = Array.isArray(logits)
      ? logits.map((e) => [e.file, e.logits] as const)
      : Object.entries(logits);
    for (const [file, expected] of entries.slice(0, 5)) {
      const raw = new Uint8Array(
        await (await import('sharp')).default(png(file)).greyscale().raw().toBuffer(),
      );
      const data = Array.from(raw, (v) => (v / 255 - 0.286) / 0.353);
      const res = await app.inject({
        method: 'POST',
        url: `/v2/models/${model}/infer`,
        payload: {
          inputs: [{ name: 'x', shape: [1, 28, 28, 1], datatype: 'FP32', data }],
          outputs: [{ name: 'logits' }],
        },
      });
      const got = res.json().outputs[0].data as number[];
      t.ok(
        maxAbsDiff(got, expected) / maxAbs(expected) < 1e-4,
        `${model} ${file}: relative error ${(maxAbsDiff(got, expected) / maxAbs(expected)).toExponential(2)}`,
      );
    }
  }
});

t.test(
  '1,000 /classify requests leak no tensors and memory settles (tfjs engine, so tensors are counted)',
  async (t) => {
    // ENGINE=auto may serve with ONNX Runtime, which holds no tfjs tensors; force tfjs here.
    const tfjsApp = await servingApp({
      modelsDir: DEFAULT_MODELS_DIR,
      workers: 2,
      engine: 'tfjs',
      onlyModels: ['fashion-resnet'],
    });
    t.teardown(() => tfjsApp.close());
    t.equal((await tfjsApp.inject('/models/fashion-resnet')).json().engine, 'tfjs');
    const bytes = png(index[1].file);
    const classify = () =>
      tfjsApp.inject({
        method: 'POST',
        url: '/classify',
        headers: { 'content-type': 'image/png' },
        payload: bytes,
      });
    for (let i = 0; i < 100; i++) await classify();
    const tensorsBefore = (await tfjsApp.pool.memory()).map((m) => m.numTensors);
    t.ok(
      tensorsBefore.every((n) => n > 0),
      `the tfjs workers hold the model's weights as tensors (${tensorsBefore.join(', ')})`,
    );
    const rss: number[] = [];
    for (let round = 0; round < 9; round++) {
      await Promise.all(Array.from({ length: 100 }, classify));
      if (global.gc) global.gc();
      rss.push(process.memoryUsage().rss);
    }
    const last = (await Promise.all(Array.from({ length: 100 }, classify))).map((r) => r.statusCode);
    t.ok(
      last.every((s) => s === 200),
      'all answered',
    );
    t.same(
      (await tfjsApp.pool.memory()).map((m) => m.numTensors),
      tensorsBefore,
      'numTensors unchanged in every worker',
    );
    const growthMB = (rss[rss.length - 1] - rss[2]) / 2 ** 20;
    t.ok(
      growthMB < 64,
      `resident memory settles: +${growthMB.toFixed(1)} MB over the last 700 requests (${rss.map((r) => (r / 2 ** 20).toFixed(0)).join(', ')} MB)`,
    );
  },
);

t.test('ONNX Runtime and tfjs agree on the default models with their real weights', async (t) => {
  const { readWeightFile } = await import('../../src/weights/load.js');
  const { bindWeights } = await import('../../src/weights/bind.js');
  const { inferShapes } = await import('../../src/spec/shapes.js');
  const { normalizeSpec } = await import('../../src/spec/normalize.js');
  const { ZOO } = await import('../../models/index.js');
  const { runOnnx, runTfjs } = await import('../helpers/onnx.js');
  const sharp = (await import('sharp')).default;
  const images = await Promise.all(
    index.slice(0, 8).map((e) => sharp(png(e.file)).greyscale().raw().toBuffer()),
  );
  const data = Float32Array.from(images.flatMap((b) => Array.from(b, (v) => (v / 255 - 0.286) / 0.353)));
  for (const [model, arch] of [
    ['fashion-resnet', 'fashion_resnet'],
    ['fashion-inception', 'fashion_inception'],
  ]) {
    const graph = normalizeSpec(ZOO.get(arch)!.build());
    const { bound } = bindWeights(
      inferShapes(graph),
      (await readWeightFile(new URL(`../../models/${model}/weights.safetensors`, import.meta.url).pathname))
        .tensors,
    );
    const input = { shape: [8, 28, 28, 1], data };
    const tfjs = await runTfjs(graph, bound, input, true);
    const onnx = (await runOnnx(graph, bound, input, { logits: true })).data;
    const err = maxAbsDiff(onnx, tfjs) / maxAbs(tfjs);
    t.ok(err < 1e-4, `${model}: max |onnx − tfjs| / max|logit| = ${err.toExponential(2)}`);
  }
});
