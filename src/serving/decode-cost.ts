/**
 * What decoding an image costs before it is decoded, from its header: pixels × a per-format factor.
 * Time is in "megapixels of JPEG" (a 12 MP JPEG costs 12, a 12 MP AVIF about 240); memory is the
 * decoder's peak in bytes. Only the first frame or page is ever decoded, so frames add nothing.
 *
 * The factors were measured with `npm run bench:decode` (bench/decode-cost.ts: time and resident
 * memory growth per megapixel of each format, decoded and resized as /classify does, on 16 MP
 * high-entropy images), rounded up. libvips streams JPEG (shrinking on load), PNG and WebP; TIFF,
 * GIF and AVIF decoders hold whole frames or strips.
 */
import type { ImageFormat } from './image-format.js';

export const FORMAT_DECODE: Record<ImageFormat, { time: number; bytesPerPixel: number }> = {
  jpeg: { time: 1, bytesPerPixel: 0.5 },
  png: { time: 1, bytesPerPixel: 2 },
  tiff: { time: 1.5, bytesPerPixel: 3.5 },
  gif: { time: 3.5, bytesPerPixel: 6 },
  webp: { time: 4, bytesPerPixel: 2 },
  avif: { time: 25, bytesPerPixel: 20 },
};

export interface DecodeCost {
  /** Decode time in megapixels of JPEG. */
  cost: number;
  /** The decoder's peak memory, in bytes. */
  memoryBytes: number;
}

export function decodeCost(format: ImageFormat, pixels: number): DecodeCost {
  const f = FORMAT_DECODE[format];
  return { cost: (pixels / 1e6) * f.time, memoryBytes: Math.ceil(pixels * f.bytesPerPixel) };
}
