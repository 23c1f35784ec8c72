// Plain PNGs decoded in JS must give exactly libvips' pixels, for every row filter; anything that
// is not plain, or not intact, must be left to libvips.
import t from 'tap';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { decodePlainPng, PLAIN_PNG_MAX_SAMPLES, readPngLayout } from '../../src/serving/plain-png.js';
import { decodeImage, probeImage } from '../../src/serving/preprocess.js';
import type { Preprocess } from '../../src/serving/model-config.js';
import { readFashionSet } from '../../src/cli/fashion-data.js';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + body.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc(body), 4 + body.length);
  return out;
}

/** Seeded pixels with gradients and noise, so that every filter has something to predict. */
function pixels(width: number, height: number, channels: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * channels);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const x = Math.floor(i / channels) % width;
    const y = Math.floor(i / channels / width);
    out[i] = (x * 7 + y * 3 + ((s >>> 24) % 40)) & 0xff;
  }
  return out;
}

/** A PNG written here, independently of libvips: each row with `filter(y)`, extra chunks before IDAT. */
function encodePng(
  px: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
  filter: (y: number) => number,
  extra: Buffer[] = [],
): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  const at = (y: number, i: number) => (y < 0 || i < 0 ? 0 : px[y * stride + i]);
  for (let y = 0; y < height; y++) {
    const f = filter(y);
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const a = at(y, i - channels);
      const b = at(y - 1, i);
      const c = i >= channels ? at(y - 1, i - channels) : 0;
      const p = a + b - c;
      const paeth =
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
            ? b
            : c;
      const predicted = [0, a, b, (a + b) >> 1, paeth][f];
      raw[y * (stride + 1) + 1 + i] = (px[y * stride + i] - predicted) & 0xff;
    }
  }
  return assemble(ihdrOf(width, height, 8, channels === 1 ? 0 : 2), [
    ...extra,
    chunk('IDAT', deflateSync(raw)),
  ]);
}

/** IHDR's 13 bytes; `patch` may then change any of them. */
function ihdrOf(width: number, height: number, bitDepth: number, colourType: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colourType;
  return ihdr;
}

/** Signature, IHDR, the chunks given, IEND. */
function assemble(ihdr: Buffer, chunks: Buffer[]): Buffer {
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...chunks,
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Filter-0 rows of a grey image, deflated: IDAT's content. */
const greyIdat = (px: Uint8Array, width: number, height: number) => {
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(px.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return deflateSync(raw);
};

/** What the service's libvips pipeline hands back for a model with `channels` (src/serving/preprocess.ts). */
const libvipsPixels = async (png: Uint8Array, channels: 1 | 3) =>
  new Uint8Array(
    await sharp(png, { limitInputPixels: 1e6, failOn: 'error', pages: 1, sequentialRead: true })
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .raw({ depth: 'uchar' })
      .toBuffer(),
  );

const model = (channels: 1 | 3, size: [number, number]): Preprocess => ({
  size,
  resize: 'stretch',
  cropFraction: 0.875,
  interpolation: 'bilinear',
  channels,
  channelOrder: 'RGB',
  scale: 1 / 255,
  mean: [0, 0, 0].slice(0, channels),
  std: [1, 1, 1].slice(0, channels),
});

t.test('every row filter, grey and RGB: the pixels written, and libvips agrees', async (t) => {
  for (const channels of [1, 3] as const) {
    for (const [width, height] of [
      [28, 28],
      [17, 9],
      [1, 5],
    ]) {
      const px = pixels(width, height, channels, width * 31 + channels);
      for (const [name, filter] of [
        ['none', () => 0],
        ['sub', () => 1],
        ['up', () => 2],
        ['average', () => 3],
        ['paeth', () => 4],
        ['mixed', (y: number) => y % 5],
      ] as const) {
        const png = encodePng(px, width, height, channels, filter);
        const layout = readPngLayout(png);
        const ours = layout && decodePlainPng(layout, channels);
        t.same(ours, px, `${width}x${height}x${channels} ${name}: the pixels written`);
        t.same(
          ours,
          await libvipsPixels(png, channels),
          `${width}x${height}x${channels} ${name}: libvips' pixels`,
        );
      }
    }
  }
});

t.test("libvips' own PNGs (adaptive filtering, any compression level) read the same", async (t) => {
  for (const channels of [1, 3] as const) {
    const px = pixels(28, 28, channels, 7);
    for (const options of [
      { adaptiveFiltering: true, compressionLevel: 9 },
      { adaptiveFiltering: false, compressionLevel: 0 },
      { adaptiveFiltering: true, compressionLevel: 6 },
    ]) {
      const png = await sharp(px, { raw: { width: 28, height: 28, channels } })
        .toColourspace(channels === 1 ? 'b-w' : 'srgb')
        .png(options)
        .toBuffer();
      const layout = readPngLayout(png);
      t.ok(layout, `${JSON.stringify(options)}: parses`);
      t.same(
        layout && decodePlainPng(layout, channels),
        px,
        `${channels} channels, ${JSON.stringify(options)}`,
      );
    }
  }
});

t.test('what is not plain is left to libvips', async (t) => {
  const px = pixels(8, 8, 3, 1);
  const layoutOf = (png: Buffer) => {
    const layout = readPngLayout(png);
    if (!layout) throw new Error('expected the PNG to parse');
    return layout;
  };
  const plainOf = (png: Buffer, channels = 3) => {
    const layout = readPngLayout(png);
    return layout ? decodePlainPng(layout, channels) : undefined;
  };
  t.ok(plainOf(encodePng(px, 8, 8, 3, () => 0)), 'the plain image itself is read');
  t.equal(
    plainOf(
      encodePng(px, 8, 8, 3, () => 0),
      1,
    ),
    undefined,
    'RGB for a grey model',
  );
  t.equal(
    plainOf(
      encodePng(pixels(8, 8, 1, 1), 8, 8, 1, () => 0),
      3,
    ),
    undefined,
    'grey for an RGB model',
  );
  for (const type of ['gAMA', 'iCCP', 'sRGB', 'cHRM', 'tRNS', 'eXIf', 'sBIT', 'PLTE']) {
    t.equal(
      plainOf(encodePng(px, 8, 8, 3, () => 0, [chunk(type, Buffer.alloc(4))])),
      undefined,
      `a ${type} chunk`,
    );
  }
  t.ok(
    plainOf(encodePng(px, 8, 8, 3, () => 0, [chunk('tEXt', Buffer.from('Software\0test'))])),
    'a tEXt chunk changes nothing',
  );
  const sixteen = await sharp(Buffer.from(new Uint16Array(8 * 8 * 3).fill(40000).buffer), {
    raw: { width: 8, height: 8, channels: 3, premultiplied: false },
  })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  t.equal(layoutOf(sixteen).bitDepth, 16, 'the fixture is 16-bit');
  t.equal(plainOf(sixteen), undefined, '16-bit samples');
  const palette = await sharp(px, { raw: { width: 8, height: 8, channels: 3 } })
    .png({ palette: true })
    .toBuffer();
  t.equal(plainOf(palette), undefined, 'a palette image');
  const interlaced = await sharp(px, { raw: { width: 8, height: 8, channels: 3 } })
    .png({ progressive: true })
    .toBuffer();
  t.equal(plainOf(interlaced), undefined, 'an interlaced image');
  t.equal(PLAIN_PNG_MAX_SAMPLES, 256 * 256, 'the limit the next two images straddle');
  const atLimit = encodePng(pixels(256, 256, 1, 2), 256, 256, 1, () => 1);
  t.ok(plainOf(atLimit, 1), `${PLAIN_PNG_MAX_SAMPLES} samples are read in JS`);
  const pastLimit = encodePng(pixels(65_537, 1, 1, 2), 65_537, 1, 1, () => 1);
  t.equal(plainOf(pastLimit, 1), undefined, `${PLAIN_PNG_MAX_SAMPLES + 1} samples are not`);
  const exifText = chunk('tEXt', Buffer.from('Raw profile type exif\0\nexif\n      8\n49492a0008000000\n'));
  const withExifText = encodePng(px, 8, 8, 3, () => 0, [exifText]);
  t.equal(layoutOf(withExifText).exif, true, 'EXIF in a text chunk is noticed');
  t.equal(plainOf(withExifText), undefined, 'and left to libvips, which may read orientation from it');
});

t.test('a damaged PNG is never read in JS: libvips refuses it as before', async (t) => {
  const px = pixels(28, 28, 1, 3);
  const png = encodePng(px, 28, 28, 1, () => 4);
  const idat = png.indexOf('IDAT');
  const badCrc = Buffer.from(png);
  badCrc[idat + 4 + png.readUInt32BE(idat - 4)] ^= 0xff; // IDAT's CRC, its data intact
  const layout = readPngLayout(badCrc);
  t.ok(layout, 'a CRC mismatch still parses');
  t.equal(layout && decodePlainPng(layout, 1), undefined, 'but the image is left to libvips');
  await t.rejects(
    (async () => decodeImage(await probeImage(badCrc, 'crc.png', { maxPixels: 1e6 }), model(1, [28, 28])))(),
    { statusCode: 400, code: 'CORRUPT_IMAGE' },
    'which refuses it as corrupt',
  );
  const truncated = png.subarray(0, png.length - 20);
  t.equal(readPngLayout(truncated), undefined, 'a truncated file does not parse');
  t.equal(readPngLayout(Buffer.concat([png, Buffer.from('trailing')])), undefined, 'bytes after IEND');
  const limits = { maxPixels: 1e6 };
  await t.rejects(
    (async () => decodeImage(await probeImage(truncated, 'cut.png', limits), model(1, [28, 28])))(),
    { statusCode: 400, code: 'CORRUPT_IMAGE' },
    'a truncated PNG is a 400 naming the file',
  );
  const garbled = Buffer.from(png);
  garbled.fill(0x55, idat + 4, idat + 40); // the deflate stream: it no longer inflates, nor matches its CRC
  await t.rejects(
    (async () => decodeImage(await probeImage(garbled, 'garbled.png', limits), model(1, [28, 28])))(),
    { statusCode: 400, code: 'CORRUPT_IMAGE' },
    'a garbled PNG is a 400 naming the file',
  );
});

t.test('decodeImage: a plain PNG of the model size, the same pixels either way', async (t) => {
  const limits = { maxPixels: 1e6 };
  for (const channels of [1, 3] as const) {
    const px = pixels(28, 28, channels, 11);
    const png = encodePng(px, 28, 28, channels, (y) => y % 5);
    const probed = await probeImage(png, 'plain.png', limits);
    t.ok(probed.png, 'the probe read its chunks');
    t.same([probed.width, probed.height], [28, 28], "the probe's size");
    const image = await decodeImage(probed, model(channels, [28, 28]));
    // sharp hands back a Buffer; the JS reader a plain Uint8Array.
    t.notOk(Buffer.isBuffer(image.pixels), 'read in JS');
    t.same(new Uint8Array(image.pixels), px, `${channels} channels, of the model's size: the pixels`);
    t.equal(image.enlarge, undefined, 'nothing left to enlarge');
    // A size the model does not take goes through libvips, which resizes.
    const other = await decodeImage(probed, model(channels, [14, 14]));
    t.ok(Buffer.isBuffer(other.pixels), 'decoded by libvips');
    const expected = await sharp(png)
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .resize({ width: 14, height: 14, fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer();
    t.same(
      new Uint8Array(other.pixels),
      new Uint8Array(expected),
      `${channels} channels, resized by libvips`,
    );
  }
});

t.test('Fashion-MNIST test images as grey PNGs: the same pixels as libvips, image by image', async (t) => {
  const set = readFashionSet('test/fixtures/fashion/', 't10k');
  let same = 0;
  const n = 500;
  for (const px of set.images.slice(0, n)) {
    const png = await sharp(Buffer.from(px), { raw: { width: 28, height: 28, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const layout = readPngLayout(png);
    const ours = layout && decodePlainPng(layout, 1);
    if (ours && Buffer.compare(Buffer.from(ours), Buffer.from(await libvipsPixels(png, 1))) === 0) same++;
  }
  t.equal(same, n, `${n} of ${n} images decoded in JS equal libvips' pixels`);
});

t.test('a PNG libvips refuses is refused as before: never read in JS, and the same 400', async (t) => {
  const px = pixels(28, 28, 1, 5);
  const idat = greyIdat(px, 28, 28);
  const limits = { maxPixels: 1e8 };
  const refusedByLibvips = async (name: string, png: Buffer) => {
    t.equal(readPngLayout(png), undefined, `${name}: not walked as a plain PNG`);
    await t.rejects(
      (async () => decodeImage(await probeImage(png, `${name}.png`, limits), model(1, [28, 28])))(),
      { statusCode: 400, code: 'CORRUPT_IMAGE' },
      `${name}: 400 CORRUPT_IMAGE`,
    );
  };
  t.ok(
    decodePlainPng(readPngLayout(assemble(ihdrOf(28, 28, 8, 0), [chunk('IDAT', idat)]))!, 1),
    'the intact image',
  );
  for (const [name, at, value] of [
    ['compression method 1', 10, 1],
    ['filter method 1', 11, 1],
    ['interlace method 2', 12, 2],
    ['bit depth 3', 8, 3],
  ] as const) {
    const ihdr = ihdrOf(28, 28, 8, 0);
    ihdr[at] = value;
    await refusedByLibvips(name, assemble(ihdr, [chunk('IDAT', idat)]));
  }
  const split = assemble(ihdrOf(28, 28, 8, 0), [
    chunk('IDAT', idat.subarray(0, 5)),
    chunk('tEXt', Buffer.from('a\0b')),
    chunk('IDAT', idat.subarray(5)),
  ]);
  await refusedByLibvips('IDAT split by another chunk', split);
  // A header claiming 100000x100000 in colour type 1, which does not exist: libvips refuses the header.
  await refusedByLibvips('colour type 1', assemble(ihdrOf(100_000, 100_000, 8, 1), [chunk('IDAT', idat)]));
});

t.test('a small PNG that inflates to far more than its header says is not read in JS', async (t) => {
  const bomb = assemble(ihdrOf(28, 28, 8, 0), [chunk('IDAT', deflateSync(Buffer.alloc(20_000_000)))]);
  t.ok(bomb.length < 64 * 1024, `the file is small (${bomb.length} bytes)`);
  const layout = readPngLayout(bomb);
  t.ok(layout, 'it parses');
  t.equal(
    layout && decodePlainPng(layout, 1),
    undefined,
    'but is left to libvips, which reads only the rows it needs',
  );
});

t.test('large PNGs are not walked: libvips reads their header, off the event loop', async (t) => {
  const side = 512;
  const noisy = await sharp(pixels(side, side, 3, 9), { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  t.ok(noisy.length > 256 * 1024, `a ${noisy.length}-byte PNG`);
  t.equal(readPngLayout(noisy), undefined, 'is not walked');
  const probed = await probeImage(noisy, 'large.png', { maxPixels: 1e8 });
  t.same([probed.width, probed.height, probed.png], [side, side, undefined], 'libvips read its header');
});
