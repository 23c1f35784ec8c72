// The decode budget on /classify: an image's cost (pixels × its format's factor, read from the header)
// and a request's total are bounded before anything is decoded, so decompression bombs are refused
// with what they would cost. Files from test/fixtures/bombs (scripts/make-image-bombs.ts).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { servingApp } from '../helpers/app.js';
import { FORMAT_DECODE } from '../../src/serving/decode-cost.js';

const bomb = (name: string) => readFileSync(new URL(`../fixtures/bombs/${name}`, import.meta.url));
const app = await servingApp({ onlyModels: ['small-h5'] });
t.teardown(() => app.close());

const classify = (payload: Buffer, type = 'application/octet-stream') =>
  app.inject({ method: 'POST', url: '/classify?model=small-h5', headers: { 'content-type': type }, payload });

function multipart(files: Buffer[]): { payload: Buffer; type: string } {
  const boundary = 'budget-boundary';
  const parts = files.flatMap((f, i) => [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="img${i}.png"\r\nContent-Type: image/png\r\n\r\n`,
    ),
    f,
    Buffer.from('\r\n'),
  ]);
  return {
    payload: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

t.test('a 74 KB GIF of 9990x9990 is refused by its cost, not decoded', async (t) => {
  const res = await classify(bomb('gif-9990.gif'));
  t.equal(res.statusCode, 413);
  const cost = Math.ceil(((9990 * 9990) / 1e6) * FORMAT_DECODE.gif.time);
  t.match(res.json(), {
    code: 'IMAGE_TOO_COSTLY',
    field: 'image',
    width: 9990,
    height: 9990,
    format: 'gif',
    cost,
    limit: 100,
    message: new RegExp(
      `at most 100 to decode \\(MAX_DECODE_COST, in megapixels of JPEG\\); this 9990x9990 gif costs ${cost}`,
    ),
  });
});

t.test(
  'a 16 MP AVIF costs twenty JPEGs of its size and is refused; a WebP of 16383² passes no pixel limit',
  async (t) => {
    const avif = await classify(bomb('avif-4000.avif'));
    t.equal(avif.statusCode, 413);
    t.match(avif.json(), { code: 'IMAGE_TOO_COSTLY', format: 'avif', cost: 16 * FORMAT_DECODE.avif.time });
    const webp = await classify(bomb('webp-16383.webp'));
    t.equal(webp.statusCode, 413);
    t.match(webp.json(), { code: 'IMAGE_TOO_LARGE', limitPixels: 100_000_000 });
  },
);

t.test('images within budget alone are refused together past the request budget', async (t) => {
  const png = bomb('png-6000.png'); // 36 MP: cost 36 each
  const eleven = multipart(Array(11).fill(png)); // 396: within 400
  const twelve = multipart(Array(12).fill(png)); // 432
  const ok = await classify(eleven.payload, eleven.type);
  t.equal(ok.statusCode, 200, 'eleven decode');
  t.equal(ok.json().results.length, 11);
  const refused = await classify(twelve.payload, twelve.type);
  t.equal(refused.statusCode, 413);
  t.match(refused.json(), {
    code: 'REQUEST_TOO_COSTLY',
    field: 'images',
    cost: 432,
    limit: 400,
    message: /MAX_REQUEST_DECODE_COST/,
  });
});

t.test('the budgets are settings', async (t) => {
  const generous = await servingApp({ onlyModels: ['small-h5'], maxDecodeCost: 400 });
  t.teardown(() => generous.close());
  const res = await generous.inject({
    method: 'POST',
    url: '/classify?model=small-h5',
    headers: { 'content-type': 'application/octet-stream' },
    payload: bomb('avif-4000.avif'),
  });
  t.equal(res.statusCode, 200, 'an AVIF of 16 MP decodes when MAX_DECODE_COST allows it');
});
