// Grad-CAM over HTTP on 127.0.0.1, from the built server serving the default models with ONNX
// Runtime (so the maps come from the workers' tfjs copies, not the engine that predicts): every map
// of POST /classify matches an independent PyTorch Grad-CAM of the same weights
// (scripts/reference/torch_gradcam.py) for the default layer, another class and an earlier layer,
// sent in the three body forms, and so do KServe v2's gradcam outputs; bad options are 400s on
// both; a full explanation queue is a 503 with Retry-After while plain requests pass. One server
// for all of it: starting it is most of this file's time.
import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { serverProcess } from '../helpers/server-process.js';
import { fixture } from '../helpers/engine.js';

interface RefRow {
  file: string;
  layer: string;
  explainClass: number | null;
  class: number;
  height: number;
  width: number;
  map: number[];
}
interface Explanation {
  method: string;
  layer: string;
  class: number;
  label: string;
  map: { height: number; width: number; data: number[] };
  overlay: string;
}
interface Result {
  file: string;
  predictions: { index: number; label: string }[];
  explanation?: Explanation;
}

const reference = JSON.parse(readFileSync(fixture('torch/gradcam/fashion.json'), 'utf8')) as {
  images: string[];
  models: Record<string, RefRow[]>;
};
const png = (file: string) => readFileSync(fixture(`fashion/${file}`));

/** Pearson correlation of two equally long arrays. */
function correlation(a: number[], b: number[]): number {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
  const [ma, mb] = [mean(a), mean(b)];
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

const server = await serverProcess(t, {
  ENGINE: 'onnxruntime',
  WORKERS: '1',
  EXPLAIN_QUEUE_LIMIT: '4',
  MAX_IMAGES_PER_REQUEST: '4',
});
for (const deadline = Date.now() + 60_000; ; ) {
  if ((await fetch(`${server.url}/health/ready`)).status === 200) break;
  if (Date.now() > deadline) throw new Error(`the models did not load within 60 s:\n${server.log()}`);
  await new Promise((r) => setTimeout(r, 200));
}

/** One case's request, in the body form `form` (the options as query, JSON fields or multipart fields). */
async function classify(
  model: string,
  files: string[],
  options: Record<string, string | number>,
  form: 'query' | 'json' | 'multipart',
): Promise<Response> {
  const all: Record<string, string | number> = { model, ...options };
  if (form === 'json')
    return fetch(`${server.url}/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...all,
        images: files.map((f) => ({ b64: png(f).toString('base64'), name: f })),
      }),
    });
  const body = new FormData();
  if (form === 'multipart') for (const [k, v] of Object.entries(all)) body.append(k, String(v));
  for (const f of files) body.append('image', new Blob([png(f)], { type: 'image/png' }), f);
  const query =
    form === 'query' ? `?${new URLSearchParams(Object.entries(all).map(([k, v]) => [k, String(v)]))}` : '';
  return fetch(`${server.url}/classify${query}`, { method: 'POST', body });
}

const FORMS = ['query', 'json', 'multipart'] as const;

for (const model of Object.keys(reference.models)) {
  t.test(
    `${model}: Grad-CAM over HTTP matches PyTorch's (corr >= 0.99, max |diff| <= 0.02 per map)`,
    async (t) => {
      const rows = reference.models[model];
      const cases = [...new Set(rows.map((r) => `${r.layer}|${r.explainClass}`))];
      for (const [i, key] of cases.entries()) {
        const expected = rows.filter((r) => `${r.layer}|${r.explainClass}` === key);
        const [layer, cls] = [expected[0].layer, expected[0].explainClass];
        // The default layer is asked for without naming it, so the default is what is checked.
        const options: Record<string, string | number> = { explain: 'gradcam' };
        if (i > 0 && cls === null) options.explainLayer = layer;
        if (cls !== null) options.explainClass = cls;
        const form = FORMS[i % FORMS.length];
        const res = await classify(
          model,
          expected.map((r) => r.file),
          options,
          form,
        );
        t.equal(res.status, 200, `${key} (${form})`);
        const body = (await res.json()) as { backend: string; results: Result[] };
        t.equal(body.backend, 'onnxruntime-cpu', 'predictions come from ONNX Runtime');
        for (const [j, ref] of expected.entries()) {
          const e = body.results[j].explanation;
          if (!e) throw new Error(`${model} ${ref.file}: no explanation`);
          t.match(e, {
            method: 'gradcam',
            layer,
            class: ref.class,
            map: { height: ref.height, width: ref.width },
          });
          if (cls === null)
            t.equal(e.class, body.results[j].predictions[0].index, 'the top class is explained');
          const corr = correlation(e.map.data, ref.map);
          const diff = Math.max(...e.map.data.map((v, k) => Math.abs(v - ref.map[k])));
          t.ok(
            corr >= 0.99 && diff <= 0.02,
            `${ref.file} ${key}: corr ${corr.toFixed(6)}, max |diff| ${diff.toExponential(2)}`,
          );
          t.ok(
            e.map.data.every((v) => v >= 0 && v <= 1) && Math.max(...e.map.data) === 1,
            'normalised by its maximum',
          );
          const overlay = Buffer.from(e.overlay.replace(/^data:image\/png;base64,/, ''), 'base64');
          const meta = await sharp(overlay).metadata();
          t.match(
            meta,
            { format: 'png', width: 28, height: 28 },
            'the overlay is a PNG of the uploaded size',
          );
        }
      }
    },
  );
}

t.test('the default layer map of a garment sits on the garment (sanity, not the proof)', async (t) => {
  const files = reference.images;
  const res = await classify('fashion-resnet', files, { explain: 'gradcam' }, 'query');
  const { results } = (await res.json()) as { results: Result[] };
  for (const [i, file] of files.entries()) {
    const pixels = await sharp(png(file)).grayscale().raw().toBuffer();
    const map = results[i].explanation?.map;
    if (!map) throw new Error('no map');
    // Each 7x7 cell covers a 4x4 block of the 28x28 image; the map's mass on garment pixels
    // (non-zero background is black in Fashion-MNIST) against the garment's share of the image.
    let onGarment = 0;
    let total = 0;
    let garment = 0;
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        const v = map.data[Math.floor(y / 4) * map.width + Math.floor(x / 4)];
        const isGarment = pixels[y * 28 + x] > 16;
        total += v;
        if (isGarment) onGarment += v;
        if (isGarment) garment++;
      }
    t.ok(
      onGarment / total > garment / 784,
      `${file}: ${((100 * onGarment) / total).toFixed(0)}% of the map on the garment, which covers ${((100 * garment) / 784).toFixed(0)}%`,
    );
  }
});

t.test('/models says what can be explained and how', async (t) => {
  const m = (await (await fetch(`${server.url}/models/fashion-resnet`)).json()) as {
    explain: Record<string, unknown>;
  };
  t.match(m.explain, { method: 'gradcam', defaultLayer: 'conv4_block2_out', computedBy: /tfjs/ });
  t.ok((m.explain.layers as string[]).includes('conv3_block2_out'), 'the layers explainLayer may name');
});

t.test('bad explanation options are 400s that name the field and what would do', async (t) => {
  const cases: [Record<string, string | number>, string, RegExp][] = [
    [{ explain: 'lime' }, 'explain', /gradcam/],
    [{ explain: 'gradcam', explainLayer: 'nope' }, 'explainLayer', /conv4_block2_out/],
    [{ explain: 'gradcam', explainLayer: 'avg_pool' }, 'explainLayer', /spatial output/],
    [{ explain: 'gradcam', explainClass: 10 }, 'explainClass', /0 to 9/],
    [{ explain: 'gradcam', explainClass: 'top' }, 'explainClass', /0 to 9/],
    [{ explainLayer: 'conv1_conv' }, 'explain', /explainLayer/],
  ];
  for (const [i, [options, field, message]] of cases.entries()) {
    const form = FORMS[i % FORMS.length];
    const res = await classify('fashion-resnet', ['0_9.png'], options, form);
    const body = await res.json();
    t.equal(res.status, 400, `${JSON.stringify(options)} (${form})`);
    t.match(body, { code: 'VALIDATION_ERROR', field, message }, JSON.stringify(options));
  }
});

t.test(
  "KServe v2: parameters.explain adds gradcam and gradcam_class outputs equal to PyTorch's maps",
  async (t) => {
    const rows = reference.models['fashion-resnet'].filter(
      (r) => r.layer === 'conv4_block2_out' && r.explainClass === 0,
    );
    const tensors = await Promise.all(
      rows.map(async (r) => {
        const pixels = await sharp(png(r.file)).grayscale().raw().toBuffer();
        return Array.from(pixels, (v) => (v / 255 - 0.286) / 0.353); // models/fashion-resnet/config.json
      }),
    );
    const infer = (parameters: Record<string, unknown>) =>
      fetch(`${server.url}/v2/models/fashion-resnet/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          parameters,
          inputs: [
            { name: 'input', datatype: 'FP32', shape: [rows.length, 28, 28, 1], data: tensors.flat() },
          ],
        }),
      });
    const res = await infer({ explain: 'gradcam', explainClass: 0 });
    t.equal(res.status, 200);
    const { outputs } = (await res.json()) as {
      outputs: { name: string; shape: number[]; data: number[]; parameters?: Record<string, unknown> }[];
    };
    const cam = outputs.find((o) => o.name === 'gradcam');
    t.match(cam, { shape: [rows.length, 7, 7], parameters: { layer: 'conv4_block2_out' } });
    t.same(
      outputs.find((o) => o.name === 'gradcam_class')?.data,
      rows.map(() => 0),
    );
    for (const [i, r] of rows.entries()) {
      const map = (cam?.data ?? []).slice(i * 49, (i + 1) * 49);
      const diff = Math.max(...map.map((v, k) => Math.abs(v - r.map[k])));
      t.ok(correlation(map, r.map) >= 0.99 && diff <= 0.02, `${r.file}: max |diff| ${diff.toExponential(2)}`);
    }
    const bad = await infer({ explain: 'gradcam', explainLayer: 'predictions' });
    t.equal(bad.status, 400);
    t.match(await bad.json(), {
      error: /parameters.explainLayer: expected the name of a layer with a spatial output/,
    });
  },
);

t.test(
  'a full explanation queue is a 503 with Retry-After; plain classification is not held up',
  async (t) => {
    const files = reference.images; // 4 images: the queue (EXPLAIN_QUEUE_LIMIT=4) holds one request
    const heavy = { explain: 'gradcam', explainLayer: 'mixed2' };
    const explained = Array.from({ length: 6 }, () => classify('fashion-inception', files, heavy, 'query'));
    const plain = await classify('fashion-inception', files, {}, 'query');
    t.equal(plain.status, 200, 'a plain request meanwhile is answered');
    const answers = await Promise.all(explained);
    const statuses = answers.map((r) => r.status);
    t.ok(
      statuses.every((s) => s === 200 || s === 503),
      `statuses ${statuses.join(', ')}`,
    );
    t.ok(statuses.includes(200), 'some are explained');
    const refused = answers.filter((r) => r.status === 503);
    t.ok(refused.length > 0, 'some are refused: the queue is bounded');
    for (const r of refused) {
      t.match(await r.json(), { code: 'QUEUE_FULL' });
      t.ok(Number(r.headers.get('retry-after')) >= 1, 'with Retry-After');
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    t.match(metrics, /explain_rejected_total\{model="fashion-inception",reason="queue_full"\} [1-9]/);
    t.match(metrics, /explain_images_total\{model="fashion-inception"\} [1-9]/);
    t.match(metrics, /explain_queue_depth\{model="fashion-inception"\} 0/);
  },
);

t.test('explanations leave no tfjs tensor behind in the worker', async (t) => {
  const tensors = async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    return [...text.matchAll(/^tfjs_tensors\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  };
  // Both explainers are built by now (the tests above), so only requests could add tensors.
  const before = await tensors();
  for (const model of ['fashion-resnet', 'fashion-inception'])
    t.equal((await classify(model, reference.images, { explain: 'gradcam' }, 'query')).status, 200);
  t.equal(await tensors(), before);
});
