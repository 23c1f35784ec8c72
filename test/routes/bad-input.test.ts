// The bad-input battery: every case gets a 4xx JSON error (the protocol's {"error"} on /v2, the
// app's {statusCode, code, error, message} elsewhere), never a 5xx, and the service keeps serving
// with its tensor count and heap back near where they started. Then the odd-but-valid images a
// user would expect to classify.
import t from 'tap';
import sharp from 'sharp';
import fc from 'fast-check';
import zlib from 'node:zlib';
import { servingApp } from '../helpers/app.js';

const app = await servingApp({
  maxImagePixels: 50_000_000,
  maxImagesPerRequest: 8,
  bodyLimit: 2 * 1024 * 1024,
});
t.teardown(() => app.close());

const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#336699' } })
  .png()
  .toBuffer();
const jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#996633' } })
  .jpeg()
  .toBuffer();
const boundary = 'battery-boundary';
function multipart(
  parts: { name: string; filename?: string; type?: string; body: Buffer | string }[],
  b = boundary,
): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`,
      ),
    );
    chunks.push(Buffer.isBuffer(p.body) ? p.body : Buffer.from(p.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${b}--\r\n`));
  return Buffer.concat(chunks);
}
const mpHeaders = { 'content-type': `multipart/form-data; boundary=${boundary}` };

interface Case {
  name: string;
  method?: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer | object;
  status: number | number[];
  pattern?: RegExp;
}

/** A 20000x20000 grey PNG whose IDAT holds only the first rows: the header alone must trip the pixel limit. */
function pixelBombPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(20000, 0);
  ihdr.writeUInt32BE(20000, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, no interlace
  const rows = zlib.deflateSync(Buffer.alloc(64 * 20001));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', rows),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const pixelBomb = pixelBombPng();
const deep = '['.repeat(50_000) + ']'.repeat(50_000);
const many = Array.from({ length: 9 }, () => ({ b64: png.toString('base64') }));

const cases: Case[] = [
  {
    name: 'truncated JPEG',
    url: '/classify?model=small-h5',
    headers: { 'content-type': 'image/jpeg' },
    payload: jpeg.subarray(0, jpeg.length / 2),
    status: 400,
    pattern: /cannot be decoded/,
  },
  {
    name: 'truncated PNG',
    url: '/classify?model=small-h5',
    headers: { 'content-type': 'image/png' },
    payload: png.subarray(0, 40),
    status: 400,
  },
  {
    name: 'random bytes labelled as PNG',
    url: '/classify?model=small-h5',
    headers: { 'content-type': 'image/png' },
    payload: Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919) % 256)),
    status: 415,
    pattern: /none of them/,
  },
  {
    name: 'zero bytes as image/png',
    url: '/classify?model=small-h5',
    headers: { 'content-type': 'image/png' },
    payload: Buffer.alloc(0),
    status: [400, 415],
  },
  {
    name: 'a 20000x20000 PNG pixel bomb',
    url: '/classify?model=small-h5',
    headers: { 'content-type': 'image/png' },
    payload: pixelBomb,
    status: 413,
    pattern: /pixels/,
  },
  {
    name: 'invalid base64',
    url: '/classify',
    payload: { model: 'small-h5', images: [{ b64: '!!!not base64!!!' }] },
    status: 400,
    pattern: /base64/,
  },
  {
    name: 'base64 of non-image bytes',
    url: '/classify',
    payload: {
      model: 'small-h5',
      images: [{ b64: Buffer.from('hello world, not an image').toString('base64') }],
    },
    status: 415,
  },
  { name: 'empty images array', url: '/classify', payload: { model: 'small-h5', images: [] }, status: 400 },
  { name: 'images not an array', url: '/classify', payload: { images: 'x' }, status: 400 },
  { name: 'missing b64', url: '/classify', payload: { images: [{ data: 'x' }] }, status: 400 },
  {
    name: 'unknown JSON property',
    url: '/classify',
    payload: { images: [{ b64: png.toString('base64') }], modle: 'x' },
    status: 400,
  },
  {
    name: 'topk zero',
    url: '/classify?model=small-h5&topk=0',
    headers: { 'content-type': 'image/png' },
    payload: png,
    status: 400,
  },
  {
    name: 'topk not a number',
    url: '/classify?model=small-h5&topk=abc',
    headers: { 'content-type': 'image/png' },
    payload: png,
    status: 400,
  },
  { name: 'too many images', url: '/classify', payload: { model: 'small-h5', images: many }, status: 413 },
  {
    name: 'huge JSON body',
    url: '/classify',
    payload: JSON.stringify({ images: [{ b64: 'A'.repeat(3 * 1024 * 1024) }] }),
    headers: { 'content-type': 'application/json' },
    status: 413,
    pattern: /at most 2097152 bytes/,
  },
  {
    name: 'deeply nested JSON on /classify',
    url: '/classify',
    headers: { 'content-type': 'application/json' },
    payload: deep,
    status: 400,
  },
  {
    name: 'deeply nested JSON on /analyze',
    url: '/analyze',
    headers: { 'content-type': 'application/json' },
    payload: deep,
    status: 400,
  },
  {
    name: 'invalid JSON',
    url: '/classify',
    headers: { 'content-type': 'application/json' },
    payload: '{"images": [',
    status: 400,
  },
  {
    name: 'prototype pollution key',
    url: '/analyze',
    headers: { 'content-type': 'application/json' },
    payload: '{"model":"resnet18","__proto__":{"x":1}}',
    status: 400,
  },
  {
    name: 'malformed multipart (no closing boundary)',
    url: '/classify',
    headers: mpHeaders,
    payload: `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc`,
    status: [400, 415],
  },
  {
    name: 'multipart without boundary',
    url: '/classify',
    headers: { 'content-type': 'multipart/form-data' },
    payload: 'abc',
    status: [400, 406, 415],
  },
  {
    name: 'multipart with no files',
    url: '/classify',
    headers: mpHeaders,
    payload: multipart([{ name: 'model', body: 'small-h5' }]),
    status: 400,
    pattern: /at least one image/,
  },
  {
    name: 'multipart with a corrupt file among good ones',
    url: '/classify',
    headers: mpHeaders,
    payload: multipart([
      { name: 'model', body: 'small-h5' },
      { name: 'image', filename: 'good.png', body: png },
      { name: 'image', filename: 'bad.png', body: Buffer.from('garbage bytes here') },
    ]),
    status: 415,
    pattern: /bad\.png/,
  },
  {
    name: 'wrong content type text/plain',
    url: '/classify',
    headers: { 'content-type': 'text/plain' },
    payload: 'hello',
    status: 415,
  },
  {
    name: 'wrong content type application/xml',
    url: '/analyze',
    headers: { 'content-type': 'application/xml' },
    payload: '<x/>',
    status: 415,
  },
  {
    name: 'image/bmp content type',
    url: '/classify',
    headers: { 'content-type': 'image/bmp' },
    payload: png,
    status: 415,
  },
  {
    name: 'unknown model',
    url: '/classify?model=nope',
    headers: { 'content-type': 'image/png' },
    payload: png,
    status: 404,
    pattern: /expected one of/,
  },
  {
    name: 'path trick in model name',
    url: '/classify?model=../../etc/passwd',
    headers: { 'content-type': 'image/png' },
    payload: png,
    status: 404,
  },
  {
    name: 'path trick in model metadata route',
    method: 'GET',
    url: '/models/..%2F..%2Fetc%2Fpasswd',
    status: 404,
  },
  { name: 'encoded null byte in model name', method: 'GET', url: '/models/abc%00def', status: [400, 404] },
  {
    name: 'failed model on /classify',
    url: '/classify?model=broken-truncated',
    headers: { 'content-type': 'image/png' },
    payload: png,
    status: 503,
  },
  {
    name: '/infer tensor of the wrong shape',
    url: '/v2/models/small-h5/infer',
    payload: { inputs: [{ name: 'x', shape: [1, 9, 9, 1], datatype: 'FP32', data: new Array(81).fill(0) }] },
    status: 400,
  },
  {
    name: '/infer with a 3-D shape',
    url: '/v2/models/small-h5/infer',
    payload: { inputs: [{ name: 'x', shape: [8, 8, 1], datatype: 'FP32', data: new Array(64).fill(0) }] },
    status: 400,
  },
  {
    name: '/infer data too short',
    url: '/v2/models/small-h5/infer',
    payload: { inputs: [{ name: 'x', shape: [2, 8, 8, 1], datatype: 'FP32', data: new Array(64).fill(0) }] },
    status: 400,
  },
  {
    name: '/infer with NaN-like strings',
    url: '/v2/models/small-h5/infer',
    payload: {
      inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: new Array(64).fill('NaN') }],
    },
    status: 400,
  },
  {
    name: '/infer with two inputs',
    url: '/v2/models/small-h5/infer',
    payload: {
      inputs: [
        { name: 'a', shape: [1, 8, 8, 1], datatype: 'FP32', data: [] },
        { name: 'b', shape: [1, 8, 8, 1], datatype: 'FP32', data: [] },
      ],
    },
    status: 400,
  },
  {
    name: '/infer unknown output',
    url: '/v2/models/small-h5/infer',
    payload: {
      inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: new Array(64).fill(0) }],
      outputs: [{ name: 'embeddings' }],
    },
    status: 400,
  },
  {
    name: '/infer on unknown model',
    url: '/v2/models/nope/infer',
    payload: { inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data: [] }] },
    status: 404,
  },
  {
    name: '/infer with too many images',
    url: '/v2/models/small-h5/infer',
    payload: {
      inputs: [{ name: 'x', shape: [9, 8, 8, 1], datatype: 'FP32', data: new Array(9 * 64).fill(0) }],
    },
    status: 413,
  },
  {
    name: '/analyze unknown kind',
    url: '/analyze',
    payload: { spec: { input: [8, 8, 3], layers: [{ kind: 'conv3d' }] } },
    status: 400,
    pattern: /conv2d/,
  },
  {
    name: '/analyze kernel larger than input',
    url: '/analyze',
    payload: { spec: { input: [4, 4, 3], layers: [{ kind: 'conv2d', filters: 2, kernel: 9 }] } },
    status: 400,
    pattern: /layers\[0\]/,
  },
  {
    name: '/analyze negative filters',
    url: '/analyze',
    payload: { spec: { input: [8, 8, 3], layers: [{ kind: 'conv2d', filters: -1, kernel: 3 }] } },
    status: 400,
  },
  {
    name: '/analyze huge input',
    url: '/analyze',
    payload: { spec: { input: [100000, 100000, 3], layers: [{ kind: 'flatten' }] } },
    status: 400,
  },
  { name: 'unknown route', method: 'GET', url: '/nope', status: 404 },
  { name: 'GET on /classify', method: 'GET', url: '/classify', status: 405 },
];

t.test(`bad-input battery: ${cases.length} cases, every answer a 4xx JSON error`, async (t) => {
  t.ok(cases.length >= 40, 'at least 40 cases');
  const before = (await app.pool.memory())[0].numTensors;
  for (const c of cases) {
    const payload =
      typeof c.payload === 'object' && !Buffer.isBuffer(c.payload) ? JSON.stringify(c.payload) : c.payload;
    const headers = {
      ...(typeof c.payload === 'object' && !Buffer.isBuffer(c.payload)
        ? { 'content-type': 'application/json' }
        : {}),
      ...c.headers,
    };
    const res = await app.inject({ method: c.method ?? 'POST', url: c.url, headers, payload });
    const allowed = Array.isArray(c.status) ? c.status : [c.status];
    t.ok(
      allowed.includes(res.statusCode),
      `${c.name}: ${res.statusCode} (expected ${allowed.join(' or ')}) ${res.body.slice(0, 160)}`,
    );
    let body: Record<string, unknown> = {};
    try {
      body = res.json();
    } catch {
      t.fail(`${c.name}: body is not JSON: ${res.body.slice(0, 100)}`);
    }
    if (c.url.startsWith('/v2/')) t.type(body.error, 'string', `${c.name}: protocol error body`);
    else
      t.match(
        body,
        { statusCode: res.statusCode, code: String, error: String, message: String },
        `${c.name}: app error body`,
      );
    if (c.pattern) t.match(String(body.message ?? body.error), c.pattern, `${c.name}: says why`);
  }
  const ok = await app.inject({
    method: 'POST',
    url: '/classify?model=small-h5',
    headers: { 'content-type': 'image/png' },
    payload: png,
  });
  t.equal(ok.statusCode, 200, 'still serving after the battery');
  t.equal((await app.pool.memory())[0].numTensors, before, 'no tensors leaked in the worker');
});

t.test('fuzzed /classify and /v2 bodies never produce a 5xx', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 2000 }),
        fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      ),
      fc.constantFrom('image/png', 'image/jpeg', 'application/json', 'application/octet-stream'),
      async (bytes, type) => {
        const url =
          type === 'application/json' && bytes[0] === 0x7b
            ? '/v2/models/small-h5/infer'
            : '/classify?model=small-h5';
        const res = await app.inject({
          method: 'POST',
          url,
          headers: { 'content-type': type },
          payload: Buffer.from(bytes),
        });
        return res.statusCode < 500;
      },
    ),
    { numRuns: 200, interruptAfterTimeLimit: 20_000 },
  );
});

async function variant(name: string, make: () => Promise<Buffer>, type = 'image/png') {
  const res = await app.inject({
    method: 'POST',
    url: `/classify?model=small-h5&filename=${encodeURIComponent(name)}`,
    headers: { 'content-type': type },
    payload: await make(),
  });
  return res;
}

t.test('odd but valid images classify (200)', async (t) => {
  const base = () =>
    sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 120, g: 200, b: 40 } } });
  const odd: [string, () => Promise<Buffer>, string?][] = [
    ['CMYK JPEG', () => base().toColourspace('cmyk').jpeg().toBuffer(), 'image/jpeg'],
    ['16-bit PNG', () => base().toColourspace('rgb16').png().toBuffer()],
    [
      'RGBA PNG',
      () =>
        sharp({
          create: { width: 20, height: 20, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.3 } },
        })
          .png()
          .toBuffer(),
    ],
    [
      '1x1 image',
      () =>
        sharp({ create: { width: 1, height: 1, channels: 3, background: '#fff' } })
          .png()
          .toBuffer(),
    ],
    [
      'large photo (6000x4000 JPEG)',
      () =>
        sharp({ create: { width: 6000, height: 4000, channels: 3, background: '#808080' } })
          .jpeg({ quality: 70 })
          .toBuffer(),
      'image/jpeg',
    ],
    [
      'animated GIF (first frame)',
      async () => {
        const frames = await Promise.all(
          ['#ff0000', '#00ff00'].map((c) =>
            sharp({ create: { width: 16, height: 16, channels: 3, background: c } })
              .raw()
              .toBuffer(),
          ),
        );
        return sharp(Buffer.concat(frames), {
          raw: { width: 16, height: 32, channels: 3, pageHeight: 16 } as never,
        })
          .gif({ loop: 0 })
          .toBuffer();
      },
      'image/gif',
    ],
    ['PNG declared as JPEG', () => base().png().toBuffer(), 'image/jpeg'],
    ['EXIF-rotated JPEG', () => base().withMetadata({ orientation: 6 }).jpeg().toBuffer(), 'image/jpeg'],
    ['grey PNG', () => base().greyscale().png().toBuffer()],
    ['WebP', () => base().webp().toBuffer(), 'image/webp'],
    ['TIFF', () => base().tiff().toBuffer(), 'image/tiff'],
  ];
  for (const [name, make, type] of odd) {
    const res = await variant(name, make, type);
    t.equal(res.statusCode, 200, `${name}: ${res.body.slice(0, 120)}`);
  }
  const longName = `${'長い名前の画像ファイル🙂'.repeat(20)}.png`;
  const res = await app.inject({
    method: 'POST',
    url: '/classify',
    headers: mpHeaders,
    payload: multipart([
      { name: 'model', body: 'small-h5' },
      { name: 'image', filename: longName, type: 'image/png', body: png },
    ]),
  });
  t.equal(res.statusCode, 200, 'a long Unicode filename');
  t.equal(res.json().results[0].file, longName, 'the filename comes back intact');
});

t.test('review findings stay fixed', async (t) => {
  const infer = (data: number[]) =>
    app.inject({
      method: 'POST',
      url: '/v2/models/small-h5/infer',
      payload: { inputs: [{ name: 'x', shape: [1, 8, 8, 1], datatype: 'FP32', data }] },
    });
  t.equal(
    (await infer(new Array(64).fill(1e300))).statusCode,
    400,
    'beyond float32 range is a 400, not a 500',
  );
  const overflow = await infer(new Array(64).fill(3e38));
  t.ok(
    [200, 422].includes(overflow.statusCode),
    `finite inputs that overflow inside the model: ${overflow.statusCode} (never a 500)`,
  );
  const empty = await app.inject({
    method: 'POST',
    url: '/classify?model=',
    headers: { 'content-type': 'image/png' },
    payload: png,
  });
  t.not(empty.statusCode, 503, 'an empty model name means the default, not a retryable 503');
  const failed = await app.inject({
    method: 'POST',
    url: '/classify?model=broken-truncated',
    headers: { 'content-type': 'image/png' },
    payload: png,
  });
  t.equal(failed.statusCode, 503);
  t.equal(failed.json().code, 'MODEL_FAILED');
  t.notOk(failed.headers['retry-after'], 'a refused model is not retryable');
  const badUrl = await app.inject({ method: 'GET', url: '/models/%E0%A4%A' });
  t.equal(badUrl.statusCode, 400);
  t.match(
    badUrl.json(),
    { statusCode: 400, code: String, message: String },
    'framework errors use the app error shape',
  );
  const bigV2 = await app.inject({
    method: 'POST',
    url: '/v2/models/small-h5/infer',
    headers: { 'content-type': 'application/json', 'content-length': String(2_000_000) },
    payload: 'x'.repeat(2_000_000),
  });
  t.equal(
    bigV2.statusCode,
    413,
    'a /v2 body larger than the model could ever need is refused before parsing',
  );
  const files = Array.from({ length: 6 }, (_, i) => ({
    name: 'image',
    filename: `${i}.png`,
    type: 'image/png',
    body: Buffer.alloc(400_000, 1),
  }));
  const tooMuch = await app.inject({
    method: 'POST',
    url: '/classify?model=small-h5',
    headers: mpHeaders,
    payload: multipart(files),
  });
  t.equal(tooMuch.statusCode, 413, 'multipart files are held to BODY_LIMIT in total');
  const xml = await app.inject({
    method: 'POST',
    url: '/analyze',
    headers: { 'content-type': 'application/xml' },
    payload: '<x/>',
  });
  t.match(xml.json().message, /application\/xml/, 'a 415 names the content type it received');
});
