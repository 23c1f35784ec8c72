// What a client sees on the wire, over a real socket on 127.0.0.1: compressed JSON for clients
// that accept it, readiness that lists every model, precise messages for compare, served names
// accepted by /analyze and unknown names answered with the closest ones, and 405 with Allow for a
// wrong method on a known route.
import t from 'tap';
import http from 'node:http';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import { servingApp } from '../helpers/app.js';

const app = await servingApp({ modelsDir: new URL('../../models/', import.meta.url).pathname, workers: 1 });
await app.listen({ host: '127.0.0.1', port: 0 });
const { port } = app.server.address() as { port: number };
t.teardown(() => app.close());

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': String(payload.length) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
const json = (r: Raw) => JSON.parse(r.body.toString());

t.test(
  'large JSON answers are compressed for clients that accept it; small ones and images are not',
  async (t) => {
    const plain = await request('POST', '/analyze', { model: 'inception_resnet_v2' });
    t.notOk(plain.headers['content-encoding'], 'no Accept-Encoding: as it is');
    for (const [encoding, decode] of [
      ['gzip', zlib.gunzipSync],
      ['br', zlib.brotliDecompressSync],
      ['deflate', zlib.inflateSync],
    ] as const) {
      const r = await request(
        'POST',
        '/analyze',
        { model: 'inception_resnet_v2' },
        { 'accept-encoding': encoding },
      );
      t.equal(r.headers['content-encoding'], encoding, `${encoding}`);
      t.same(JSON.parse(decode(r.body).toString()), json(plain), `${encoding}: the same report`);
      t.ok(
        r.body.length < plain.body.length / 5,
        `${encoding}: ${plain.body.length} bytes → ${r.body.length}`,
      );
    }
    const small = await request('GET', '/health/live', undefined, { 'accept-encoding': 'gzip' });
    t.notOk(small.headers['content-encoding'], 'a tiny answer is not worth compressing');
    const png = await request('GET', '/ui/favicon.svg', undefined, { 'accept-encoding': 'gzip' });
    t.ok(png.status === 200 || png.status === 404, 'static files answer');
    const onnx = await request('GET', '/models/fashion-resnet/model.onnx', undefined, {
      'accept-encoding': 'gzip',
    });
    t.equal(onnx.status, 200);
    t.notOk(onnx.headers['content-encoding'], 'model files go as they are');
  },
);

t.test('readiness lists every model with its state, engine and backend', async (t) => {
  const r = await request('GET', '/health/ready');
  t.equal(r.status, 200);
  const body = json(r);
  t.equal(body.status, 'ready');
  t.same(body.models.map((m: { name: string }) => m.name).sort(), ['fashion-inception', 'fashion-resnet']);
  for (const m of body.models) {
    t.equal(m.state, 'ready', `${m.name}: ready`);
    t.match(m.engine, /^(tfjs|onnxruntime)$/);
    t.equal(
      m.backend,
      m.engine === 'onnxruntime' ? 'onnxruntime-cpu' : body.tfjsBackend,
      `${m.name}: the backend that computes it`,
    );
  }
});

t.test('compare: names accepted as sides, and a wrong side said plainly', async (t) => {
  const ok = await request('POST', '/analyze', { compare: ['resnet50', 'inception_v3'] });
  t.equal(ok.status, 200);
  t.same(json(ok).comparison.models, ['resnet50', 'inception_v3']);
  const bad = await request('POST', '/analyze', { compare: ['resnet50', 42] });
  t.equal(bad.status, 400);
  t.match(
    json(bad).message,
    /^body\.compare\.1: expected a model name, \{"model": name\}, \{"spec": …\} or a Keras\/tfjs model JSON; received 42$/,
  );
});

t.test("/analyze takes a served model's name; an unknown name gets the closest ones", async (t) => {
  const served = await request('POST', '/analyze', { model: 'fashion-resnet' });
  t.equal(served.status, 200, 'a served name: the analysis of what is served');
  t.equal(json(served).model, 'fashion_resnet');
  const typo = await request('POST', '/analyze', { model: 'fashion-resnt' });
  t.equal(typo.status, 404);
  t.same(
    [...json(typo).suggestions].sort(),
    ['fashion-resnet', 'fashion_resnet'],
    'the served name and the architecture',
  );
  t.match(json(typo).message, /Did you mean "fashion[-_]resnet" or "fashion[-_]resnet"\?/);
  const model404 = await request('GET', '/models/fashion_resnet');
  t.equal(model404.status, 404);
  t.same(json(model404).suggestions, ['fashion-resnet'], '/models/{name} suggests too');
});

t.test('a wrong method on a known route is a 405 naming the allowed ones', async (t) => {
  for (const [method, path, allow] of [
    ['GET', '/classify', 'POST'],
    ['GET', '/analyze', 'POST'],
    ['POST', '/models/fashion-resnet', 'GET, HEAD'],
    ['DELETE', '/v2/models/fashion-resnet/infer', 'POST'],
  ]) {
    const r = await request(method, path);
    t.equal(r.status, 405, `${method} ${path}`);
    t.equal(r.headers.allow, allow);
    t.match(json(r).code ?? json(r).error, /METHOD_NOT_ALLOWED|expected/, 'says which methods');
  }
  t.equal((await request('GET', '/no/such/route')).status, 404, 'an unknown path stays a 404');
});

t.test('too many multipart fields is one 413, whatever follows them', async (t) => {
  const png = new Blob([readFileSync(new URL('../fixtures/fashion/0_9.png', import.meta.url))], {
    type: 'image/png',
  });
  const cases: [string, FormData][] = [];
  for (const [what, fields, fileFirst] of [
    ['21 fields', 21, undefined],
    ['21 fields, then an image', 21, false],
    ['an image, then 21 fields', 21, true],
    ['5,000 fields, then an image', 5000, false],
  ] as const) {
    const form = new FormData();
    if (fileFirst === true) form.append('image', png, 'a.png');
    for (let i = 0; i < fields; i++) form.append(`f${i}`, 'x');
    if (fileFirst === false) form.append('image', png, 'a.png');
    cases.push([what, form]);
  }
  for (const [what, form] of cases) {
    const res = await fetch(`http://127.0.0.1:${port}/classify`, { method: 'POST', body: form });
    t.equal(res.status, 413, what);
    t.match(await res.json(), { code: 'TOO_MANY_FIELDS', field: 'body' }, what);
  }
});
