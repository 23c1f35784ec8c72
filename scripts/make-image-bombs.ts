/**
 * Writes test/fixtures/bombs/: small files that decode to huge images (a decompression-bomb set for
 * the decode budget's tests). Uniform colour compresses to almost nothing in every format.
 *   npx tsx scripts/make-image-bombs.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';

const out = new URL('../test/fixtures/bombs/', import.meta.url);
mkdirSync(out, { recursive: true });
const plain = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 200, b: 200 } } });

const files: [string, () => Promise<Buffer>][] = [
  // Under the default MAX_IMAGE_PIXELS (100 M) but ~1.9 s and ~400 MB to decode.
  ['gif-9990.gif', () => plain(9990, 9990).gif().toBuffer()],
  // The largest WebP there is.
  ['webp-16383.webp', () => plain(16383, 16383).webp({ lossless: true }).toBuffer()],
  // 4000x4000 (16 MP) AVIF: within the pixel limit, twenty times a JPEG's decode cost.
  ['avif-4000.avif', () => plain(4000, 4000).avif({ effort: 0 }).toBuffer()],
  // 6000x6000 PNG (36 MP): cheap per pixel, costly in bulk.
  ['png-6000.png', () => plain(6000, 6000).png({ compressionLevel: 9 }).toBuffer()],
];
for (const [name, make] of files) {
  const bytes = await make();
  writeFileSync(new URL(name, out), bytes);
  console.log(`${name}: ${bytes.length} bytes`);
}
