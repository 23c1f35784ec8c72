// PRECISION and config.json's `precision` at load: which wins, int8 checked against fp32 on the
// calibration images and shown by /models/{name} (over a real socket), and every refusal with its
// reason and figures: int8 that loses a difference finer than its step, int8 without calibration
// images, int8 on ENGINE=tfjs, bf16 on ONNX Runtime's CPU provider, and a precision that does not exist.
import t from 'tap';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { ConfigError, loadConfig } from '../../src/config.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import { enginesFor } from '../../src/serving/load-version.js';
import { servingApp } from '../helpers/app.js';

const FASHION = fileURLToPath(new URL('../../models/fashion-resnet/', import.meta.url));

t.test('PRECISION: fp32 by default, one of fp32, bf16, int8, anything else stops the start', async (t) => {
  t.equal(loadConfig({}, false).precision, 'fp32');
  t.equal(loadConfig({ PRECISION: 'int8' }, false).precision, 'int8');
  t.throws(() => loadConfig({ PRECISION: 'int4' }, false), ConfigError);
  t.throws(() => loadConfig({ PRECISION: 'INT8' }, false), {
    message: 'PRECISION="INT8" is invalid: expected one of fp32, bf16, int8',
  });
});

const repo = await mkdtemp(path.join(tmpdir(), 'precision-'));
t.teardown(() => rm(repo, { recursive: true, force: true }));

/** A copy of fashion-resnet with `extra` in its config.json and its first `images` calibration images. */
async function fashionCopy(name: string, extra: Record<string, unknown>, images: number) {
  const dir = path.join(repo, name);
  await mkdir(path.join(dir, 'calibration'), { recursive: true });
  for (const f of ['weights.safetensors', 'labels.txt'])
    await copyFile(path.join(FASHION, f), path.join(dir, f));
  const chosen = (await readdir(path.join(FASHION, 'calibration')))
    .filter((f) => f.endsWith('.png'))
    .slice(0, images);
  for (const f of chosen)
    await copyFile(path.join(FASHION, 'calibration', f), path.join(dir, 'calibration', f));
  const lines = (await readFile(path.join(FASHION, 'calibration', 'labels.csv'), 'utf8')).split('\n');
  const labels = lines.filter((l) => chosen.includes(l.split(',')[0]));
  await writeFile(path.join(dir, 'calibration', 'labels.csv'), labels.map((l) => `${l}\n`).join(''));
  const config = {
    architecture: 'fashion_resnet',
    weights: 'weights.safetensors',
    labels: 'labels.txt',
    preprocess: { preset: 'unit', mean: [0.286], std: [0.353] },
    ...extra,
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
}

const gray = (level: number) =>
  sharp(Buffer.alloc(16, level), { raw: { width: 4, height: 4, channels: 1 } })
    .png()
    .toBuffer();

/**
 * A 4x4 model whose two classes differ by 0.2%: a 1x1 convolution with weights 1 and 1.002, averaged,
 * then an identity classifier. Calibrated on one white image (range up to 1.002) and three dark
 * ones (value 10/255), int8's step (1.002/255) is wider than the dark images' 0.2% difference, so
 * both classes get the same code and int8 answers class 0 where fp32 answers class 1.
 */
async function finerThanAStep(name: string, extra: Record<string, unknown>) {
  const dir = path.join(repo, name);
  await mkdir(path.join(dir, 'calibration'), { recursive: true });
  const f32 = (values: number[], shape: number[]) => ({ data: Float32Array.from(values), shape });
  const weights = writeSafetensors(
    Object.entries({
      'mix/kernel': f32([1, 1.002], [1, 1, 1, 2]),
      'mix/bias': f32([0, 0], [2]),
      'predictions/kernel': f32([1, 0, 0, 1], [2, 2]),
      'predictions/bias': f32([0, 0], [2]),
    }),
  );
  await writeFile(path.join(dir, 'weights.safetensors'), weights);
  await writeFile(path.join(dir, 'calibration', 'a_white.png'), await gray(255));
  for (const i of [1, 2, 3]) await writeFile(path.join(dir, 'calibration', `b_dark${i}.png`), await gray(10));
  await writeFile(
    path.join(dir, 'calibration', 'labels.csv'),
    'a_white.png,1\nb_dark1.png,1\nb_dark2.png,1\nb_dark3.png,1\n',
  );
  const layers = [
    { kind: 'conv2d', name: 'mix', filters: 2, kernel: 1 },
    { kind: 'globalavgpool', name: 'pool' },
    { kind: 'dense', name: 'predictions', units: 2, activation: 'softmax' },
  ];
  const spec = { name: 'finer_than_a_step', input: [4, 4, 1], layers };
  const config = {
    architecture: { spec },
    weights: 'weights.safetensors',
    preprocess: { preset: 'unit' },
    ...extra,
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
}

const calibration = { images: 'calibration', labels: 'calibration/labels.csv' };
await fashionCopy('from-env', { calibration }, 8);
await fashionCopy('config-fp32', { precision: 'fp32', calibration }, 8);
await fashionCopy('no-calibration', {}, 0);
await finerThanAStep('finer', { precision: 'int8', calibration });
await finerThanAStep('bf16', { precision: 'bf16' });
await finerThanAStep('int4', { precision: 'int4' });
// Two one-thread workers: the first calibrates, the second loads the bytes it built (sequential
// requests go to the last worker, so the socket test below classifies through it).
const app = await servingApp({
  modelsDir: repo,
  precision: 'int8',
  modelControl: 'explicit',
  workers: 2,
  onnxThreads: 1,
});
t.teardown(() => app.close());
const model = (name: string) => app.models.get(name);

t.test(
  'config.json precision wins over PRECISION; int8 is served by ONNX Runtime with its check',
  async (t) => {
    t.equal(model('config-fp32')?.precision, 'fp32', 'config.json says fp32: PRECISION=int8 does not apply');
    t.equal(model('config-fp32')?.precisionCheck, undefined, 'fp32 has nothing to compare');
    const m = model('from-env');
    t.equal(m?.state, 'ready');
    t.equal(m?.precision, 'int8', 'no precision in config.json: PRECISION=int8 applies');
    t.equal(m?.engine, 'onnxruntime');
    t.equal(m?.precisionCheck?.images, 8);
    t.ok((m?.precisionCheck?.agreement ?? 0) >= 0.99);
    t.ok(
      m?.precisionCheck?.fp32Accuracy !== undefined && m.precisionCheck.accuracy !== undefined,
      'labelled: accuracy too',
    );
  },
);

t.test('int8 that agrees with fp32 on too few images is refused, with the figures', async (t) => {
  const m = model('finer');
  t.equal(m?.state, 'failed');
  t.match(
    m?.error,
    /precision int8 refused: on 4 calibration images \(calibration\), top-1 agreement with fp32 25% is below 99%/,
  );
  t.match(m?.error, /accuracy 25% is 75\.00 points below fp32's 100%/);
  t.match(m?.precisionCheck, { images: 4, agreement: 0.25, fp32Accuracy: 100, accuracy: 25 });
  const image = { b64: (await gray(10)).toString('base64') };
  const res = await app.inject({
    method: 'POST',
    url: '/classify',
    payload: { model: 'finer', images: [image] },
  });
  t.equal(res.json().code, 'MODEL_FAILED', 'a refused version answers nothing');
});

t.test(
  'refusals with a reason: no calibration images, bf16 on the CPU provider, an unknown precision',
  async (t) => {
    t.equal(model('no-calibration')?.state, 'failed');
    t.match(
      model('no-calibration')?.error,
      /PRECISION int8 needs calibration images \(config\.json's calibration\.images/,
    );
    t.equal(model('bf16')?.state, 'failed');
    t.match(
      model('bf16')?.error,
      /config\.json precision bf16 refused: ONNX Runtime's CPU provider cannot compute a convolution in bfloat16 here \(.+\)/,
    );
    // The repository API's load answers 400 with the reason.
    const res = await app.inject({ method: 'POST', url: '/v2/repository/models/int4/load' });
    t.equal(res.statusCode, 400);
    t.match(
      res.body,
      /config\.json\.precision: must be equal to one of the allowed values \(fp32, bf16, int8\); received \\"int4\\"/,
    );
  },
);

t.test('GET /models/{name} over a socket shows the precision and the agreement with fp32', async (t) => {
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const body = (await (await fetch(`${url}/models/from-env`)).json()) as Record<string, unknown>;
  t.equal(body.precision, 'int8');
  t.match(body.precisionCheck, {
    calibration: 'calibration',
    images: 8,
    minAgreement: 0.99,
    maxAccuracyDrop: 0.5,
  });
  t.ok(((body.precisionCheck as { agreement: number }).agreement ?? 0) >= 0.99);
  const v2 = (await (await fetch(`${url}/v2/models/from-env`)).json()) as {
    parameters: Record<string, unknown>;
  };
  t.equal(v2.parameters.precision, 'int8', 'the KServe v2 metadata says so too');

  // Classified by the second worker, which loaded the first one's int8 bytes.
  const dir = path.join(repo, 'from-env', 'calibration');
  const lines = (await readFile(path.join(dir, 'labels.csv'), 'utf8')).trim().split('\n');
  let correct = 0;
  for (const line of lines) {
    const [file, label] = line.split(',');
    const image = { b64: (await readFile(path.join(dir, file))).toString('base64'), name: file };
    const res = await fetch(`${url}/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'from-env', topk: 1, images: [image] }),
    });
    const answer = (await res.json()) as { results: { predictions: { label: string }[] }[] };
    if (answer.results[0].predictions[0].label === label) correct++;
  }
  t.ok(correct >= lines.length - 1, `int8 served: ${correct} of ${lines.length} calibration images right`);
});

t.test(
  'ENGINE=tfjs refuses a reduced precision; auto serves it on ONNX Runtime without timing tfjs',
  async (t) => {
    t.throws(() => enginesFor('int8', 'tfjs', 'PRECISION'), {
      message:
        'PRECISION int8: only ONNX Runtime computes below fp32, and ENGINE=tfjs serves fp32 only; set ENGINE=onnxruntime or auto',
    });
    t.throws(
      () => enginesFor('bf16', 'tfjs', 'config.json precision'),
      /config\.json precision bf16: only ONNX Runtime/,
    );
    t.same(enginesFor('int8', 'auto', 'PRECISION'), ['onnxruntime']);
    t.same(
      enginesFor('fp32', 'auto', 'PRECISION'),
      ['onnxruntime', 'tfjs'],
      'fp32 under auto: both are timed',
    );
    t.same(enginesFor('fp32', 'tfjs', 'PRECISION'), ['tfjs']);
  },
);
