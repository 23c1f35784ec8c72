/**
 * Measures what decoding costs per format, to check the factors in src/serving/decode-cost.ts: each
 * format's time per megapixel relative to JPEG, and its peak resident-memory growth per pixel, for a
 * 16 MP high-entropy image decoded and resized as /classify does (224x224, crop). Each format runs in
 * a process of its own, so one format's memory is not another's.
 *   npm run bench:decode            (SIDE=4000 by default)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import sharp, { type Sharp } from 'sharp';
import { FORMAT_DECODE } from '../src/serving/decode-cost.js';
import type { ImageFormat } from '../src/serving/image-format.js';
import { imageToTensor } from '../src/serving/preprocess.js';
import type { Preprocess } from '../src/serving/model-config.js';

const SIDE = Number(process.env.SIDE ?? 4000);
const RUNS = 3;
const preprocess: Preprocess = {
  size: [224, 224],
  resize: 'crop',
  cropFraction: 0.875,
  interpolation: 'bilinear',
  channels: 3,
  channelOrder: 'RGB',
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

function encode(format: ImageFormat): Promise<Buffer> {
  // Deterministic noise: the worst case for every codec, so no format looks cheap by compressing well.
  const pixels = Buffer.alloc(SIDE * SIDE * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.imul(i, 2654435761) >>> 24;
  const img = sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 3 } });
  const encoders: Record<ImageFormat, () => Sharp> = {
    jpeg: () => img.jpeg({ quality: 90 }),
    png: () => img.png({ compressionLevel: 1 }),
    tiff: () => img.tiff(),
    gif: () => img.gif(),
    webp: () => img.webp({ quality: 80 }),
    avif: () => img.avif({ quality: 50, effort: 0 }),
  };
  return encoders[format]().toBuffer();
}

/** In the child: decode RUNS times; print the median ms and the peak RSS growth. */
async function measure(format: ImageFormat): Promise<void> {
  const bytes = await encode(format);
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await imageToTensor(bytes, format, preprocess, { maxPixels: 1e9 });
    times.push(performance.now() - t0);
  }
  clearInterval(sampler);
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ ms: times[Math.floor(RUNS / 2)], rssGrowth: peak - rss0 }));
}

if (process.argv[2] === '--child') {
  await measure(process.argv[3] as ImageFormat);
} else {
  const self = fileURLToPath(import.meta.url);
  const mp = (SIDE * SIDE) / 1e6;
  const rows = (Object.keys(FORMAT_DECODE) as ImageFormat[]).map((format) => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--expose-gc', self, '--child', format]);
    return { format, ...(JSON.parse(out.toString()) as { ms: number; rssGrowth: number }) };
  });
  const jpegMsPerMp = rows[0].ms / mp;
  console.log(`decode + resize to 224x224 of a ${SIDE}x${SIDE} (${mp} MP) noise image, median of ${RUNS}`);
  console.log('format  ms/MP  time vs JPEG (table)  peak RSS growth B/px (table)');
  for (const r of rows) {
    const f = FORMAT_DECODE[r.format];
    console.log(
      `${r.format.padEnd(6)} ${(r.ms / mp).toFixed(1).padStart(6)}  ${(r.ms / mp / jpegMsPerMp).toFixed(2).padStart(6)} (${f.time})`.padEnd(
        38,
      ) + `${(r.rssGrowth / (mp * 1e6)).toFixed(2).padStart(6)} (${f.bytesPerPixel})`,
    );
  }
}
