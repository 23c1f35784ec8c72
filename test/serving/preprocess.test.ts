// The image pipeline against torchvision's own ImageNet transform (Resize(256), CenterCrop(224),
// ToTensor, Normalize), computed by scripts/reference/torch_preprocess.py with Debian's PyTorch on
// three PNGs: enlarging a square and a landscape image, and shrinking a larger portrait one.
import t from 'tap';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { imageToTensor, resamplePlan, resizeGeometry, uprightSize } from '../../src/serving/preprocess.js';
import { enlargeBilinear, normalize } from '../../src/engines/pixels.js';
import type { Preprocess } from '../../src/serving/model-config.js';
import { readSafetensors } from '../../src/weights/safetensors.js';

const DIR = 'test/fixtures/torch/preprocess';
const reference = readSafetensors(readFileSync(`${DIR}/reference.safetensors`));
const torch = (interpolation: Preprocess['interpolation']): Preprocess => ({
  size: [224, 224],
  resize: 'crop',
  cropFraction: 0.875,
  interpolation,
  channels: 3,
  channelOrder: 'RGB',
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
});
const STD = [0.229, 0.224, 0.225];

/** Differences in 8-bit grey levels (undoing the per-channel std). */
function greyLevelDiffs(ours: Float32Array, theirs: Float32Array): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i] - theirs[i]) * STD[i % 3] * 255;
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / ours.length, max };
}

const limits = { maxPixels: 1e8 };

for (const [name, enlarging] of [
  ['square_224', true],
  ['landscape_320x240', true],
  ['portrait_480x640', false],
] as const) {
  t.test(`torch preset equals torchvision's transform: ${name}`, async (t) => {
    const png = readFileSync(`${DIR}/${name}.png`);
    const expected = reference.get(name)!.data as Float32Array;
    const ours = await imageToTensor(png, name, torch('bilinear'), limits);
    t.equal(ours.length, 224 * 224 * 3);
    const d = greyLevelDiffs(ours, expected);
    if (enlarging) {
      // Same sampling grid and two rounded passes as PIL: equal up to a rare one-level rounding.
      t.ok(d.max <= 1.0001, `max difference ${d.max.toFixed(3)} grey levels (at most 1)`);
      t.ok(d.mean < 0.01, `mean difference ${d.mean.toFixed(4)} grey levels`);
    } else {
      // Shrinking: libvips' antialiased linear reduction against PIL's; same filter, other rounding.
      t.ok(d.max <= 2.0001, `max difference ${d.max.toFixed(3)} grey levels (at most 2)`);
      t.ok(d.mean < 0.5, `mean difference ${d.mean.toFixed(3)} grey levels`);
    }
    // The other filters are available, and measurably further from what torchvision feeds a model.
    const lanczos = greyLevelDiffs(await imageToTensor(png, name, torch('lanczos3'), limits), expected);
    t.ok(lanczos.mean > 2 * d.mean + 0.1, `lanczos3 is further away (mean ${lanczos.mean.toFixed(3)})`);
  });
}

t.test(
  'stretch, growing in width and shrinking in height at once, equals torchvision Resize((224, 224))',
  async (t) => {
    const png = readFileSync(`${DIR}/tall_200x600.png`);
    const expected = reference.get('tall_200x600_stretch')!.data as Float32Array;
    const d = greyLevelDiffs(
      await imageToTensor(png, 'tall', { ...torch('bilinear'), resize: 'stretch', cropFraction: 1 }, limits),
      expected,
    );
    t.ok(d.max <= 2.0001, `max difference ${d.max.toFixed(3)} grey levels (at most 2)`);
    t.ok(d.mean < 0.5, `mean difference ${d.mean.toFixed(3)} grey levels`);
  },
);

t.test('a thin image is cropped without resizing it whole, with every filter', async (t) => {
  // 1x40000: the crop resizes it to 256x10240000, of which only the 224x224 window may be computed
  // (resizing it in full once aborted the process inside libvips).
  const thin = await sharp({ create: { width: 1, height: 40000, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  for (const interpolation of ['bilinear', 'bicubic', 'lanczos3', 'nearest'] as const) {
    const x = await imageToTensor(
      thin,
      'thin.png',
      { ...torch(interpolation), mean: [0, 0, 0], std: [1, 1, 1] },
      limits,
    );
    t.equal(x.length, 224 * 224 * 3, `${interpolation}: the model's input size`);
    t.ok(Math.abs(x[1000] - 128 / 255) < 0.01, `${interpolation}: the grey survives`);
  }
});

t.test('resize geometry follows Resize(256) + CenterCrop(224)', async (t) => {
  const p = { size: [224, 224] as [number, number], resize: 'crop' as const, cropFraction: 0.875 };
  t.same(resizeGeometry([224, 224], p), {
    srcWidth: 224,
    srcHeight: 224,
    width: 256,
    height: 256,
    left: 16,
    top: 16,
  });
  // floor(256·320/240) = 341; (341 − 224)/2 = 58.5 rounds half to even: 58, as Python's round().
  t.same(resizeGeometry([320, 240], p), {
    srcWidth: 320,
    srcHeight: 240,
    width: 341,
    height: 256,
    left: 58,
    top: 16,
  });
  t.same(resizeGeometry([480, 640], p), {
    srcWidth: 480,
    srcHeight: 640,
    width: 256,
    height: 341,
    left: 16,
    top: 58,
  });
  t.same(resizeGeometry([1, 1], p), {
    srcWidth: 1,
    srcHeight: 1,
    width: 256,
    height: 256,
    left: 16,
    top: 16,
  });
  t.same(resizeGeometry([6000, 4000], { ...p, resize: 'stretch' }), {
    srcWidth: 6000,
    srcHeight: 4000,
    width: 224,
    height: 224,
    left: 0,
    top: 0,
  });
});

t.test('EXIF orientations 5 to 8 swap width and height; the first page of an animation counts', async (t) => {
  t.same(uprightSize({ width: 300, height: 200, orientation: 1 }), [300, 200]);
  t.same(uprightSize({ width: 300, height: 200, orientation: 6 }), [200, 300]);
  t.same(uprightSize({ width: 300, height: 600, pageHeight: 200 }), [300, 200]);
});

t.test('bilinear enlarging samples at pixel centres with clamped edges, as PIL does', async (t) => {
  // A 2x1 grey image enlarged to 4x1: 0, 1/4, 3/4 and 1 of the way from a to b.
  const src = Uint8Array.from([0, 200]);
  const out = enlargeBilinear(
    src,
    { width: 2, height: 1, channels: 1 },
    { srcWidth: 2, srcHeight: 1, width: 4, height: 1, left: 0, top: 0 },
    4,
    1,
  );
  t.same([...out], [0, 50, 150, 200]);
  // Only the requested window is computed: columns 1..2 of the same enlargement.
  const window = enlargeBilinear(
    src,
    { width: 2, height: 1, channels: 1 },
    { srcWidth: 2, srcHeight: 1, width: 4, height: 1, left: 1, top: 0 },
    2,
    1,
  );
  t.same([...window], [50, 150]);
});

t.test('normalisation: scale, mean, std per channel, BGR order, alpha skipped, grey', async (t) => {
  // 2x1 RGB.
  const src = Uint8Array.from([40, 50, 60, 100, 110, 120]);
  const rgb = normalize(src, 3, {
    size: [1, 2],
    channels: 3,
    channelOrder: 'RGB',
    scale: 1,
    mean: [1, 2, 3],
    std: [1, 2, 4],
  });
  t.same([...rgb], [39, 24, 14.25, 99, 54, 29.25]);
  const bgr = normalize(src, 3, {
    size: [1, 1],
    channels: 3,
    channelOrder: 'BGR',
    scale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  });
  t.same([...bgr], [60, 50, 40]);
  // RGBA source for an RGB model: the alpha byte of every pixel is stepped over.
  const rgba = normalize(Uint8Array.from([1, 2, 3, 255, 4, 5, 6, 255]), 4, {
    size: [1, 2],
    channels: 3,
    channelOrder: 'RGB',
    scale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  });
  t.same([...rgba], [1, 2, 3, 4, 5, 6]);
  const grey = normalize(Uint8Array.from([0, 255]), 1, {
    size: [1, 2],
    channels: 1,
    channelOrder: 'RGB',
    scale: 1 / 255,
    mean: [0.5],
    std: [0.5],
  });
  t.same([...grey], [-1, 1]);
});

t.test('resample plan: what libvips does and what is left for the window', async (t) => {
  const crop = { size: [224, 224] as [number, number], resize: 'crop' as const, cropFraction: 0.875 };
  // Enlarging, bilinear: libvips only decodes; the window is enlarged and cut afterwards.
  t.same(resamplePlan(resizeGeometry([224, 224], crop), 'bilinear', [224, 224]), {
    resize: undefined,
    extract: false,
    enlarge: true,
    width: 224,
    height: 224,
  });
  // Shrinking, bilinear: libvips shrinks (linear) and cuts the window.
  t.same(resamplePlan(resizeGeometry([480, 640], crop), 'bilinear', [224, 224]), {
    resize: { width: 256, height: 341, kernel: 'linear' },
    extract: true,
    enlarge: false,
    width: 224,
    height: 224,
  });
  // Stretch growing in width, shrinking in height: libvips shrinks the height only.
  const stretch = { ...crop, resize: 'stretch' as const, cropFraction: 1 };
  t.same(resamplePlan(resizeGeometry([200, 600], stretch), 'bilinear', [224, 224]), {
    resize: { width: 200, height: 224, kernel: 'linear' },
    extract: false,
    enlarge: true,
    width: 200,
    height: 224,
  });
  // Other filters: libvips resizes, and cuts the window in the same pipeline.
  t.same(resamplePlan(resizeGeometry([1, 40000], crop), 'bicubic', [224, 224]), {
    resize: { width: 256, height: 10240000, kernel: 'cubic' },
    extract: true,
    enlarge: false,
    width: 224,
    height: 224,
  });
});

t.test('an EXIF-rotated enlargement is read upright, from a PNG and from a JPEG', async (t) => {
  // 40x20 image, left half black, right half white, stored with orientation 6 (rotate 90° clockwise):
  // upright it is 20x40 with the black half on top. A JPEG's orientation is read by image-size, a
  // PNG's (eXIf chunk) by libvips (src/serving/preprocess.ts readHeader).
  const pixels = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++)
    for (let x = 20; x < 40; x++) pixels.fill(255, (y * 40 + x) * 3, (y * 40 + x) * 3 + 3);
  const stored = () =>
    sharp(pixels, { raw: { width: 40, height: 20, channels: 3 } }).withMetadata({ orientation: 6 });
  const p: Preprocess = { ...torch('bilinear'), mean: [0, 0, 0], std: [1, 1, 1] };
  for (const [file, bytes] of [
    ['rotated.png', await stored().png().toBuffer()],
    ['rotated.jpg', await stored().jpeg({ quality: 100 }).toBuffer()],
  ] as const) {
    const x = await imageToTensor(bytes, file, p, limits);
    t.ok(x[0] < 0.05, `${file}: top-left is black`);
    t.ok(x[(223 * 224 + 0) * 3] > 0.95, `${file}: bottom-left is white`);
  }
});
