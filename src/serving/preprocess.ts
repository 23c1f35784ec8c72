/**
 * Image bytes → the model's input tensor, with sharp (libvips, off the event loop). The declared
 * content type is never trusted: the format is sniffed from the magic bytes. EXIF orientation is
 * applied, alpha is flattened onto white, CMYK and 16-bit images are converted to 8-bit sRGB (or
 * grey for 1-channel models), then the image is resized (stretch, or shorter side + centre crop)
 * and normalised as the model's `preprocess` says.
 */
import sharp, { type OutputInfo } from 'sharp';
import { AppError } from '../errors.js';
import type { Preprocess } from './model-config.js';

// Images here are small and requests many: one libvips thread per operation, with libuv running
// several operations at once, leaves the cores to inference instead of oversubscribing them.
sharp.concurrency(1);

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif';
export const SUPPORTED_FORMATS: readonly ImageFormat[] = ['jpeg', 'png', 'gif', 'webp', 'tiff', 'avif'];

const ascii = (bytes: Uint8Array, start: number, end: number) => String.fromCharCode(...bytes.subarray(start, end));

/** The format from the first bytes, or null when it is none we accept. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length < 12) return null;
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes[0] === 0x89 && ascii(bytes, 1, 4) === 'PNG') return 'png';
  if (ascii(bytes, 0, 4) === 'GIF8') return 'gif';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return 'webp';
  if ((bytes[0] === 0x49 && bytes[1] === 0x49 && bytes[2] === 0x2a && bytes[3] === 0) || (bytes[0] === 0x4d && bytes[1] === 0x4d && bytes[2] === 0 && bytes[3] === 0x2a)) return 'tiff';
  if (ascii(bytes, 4, 8) === 'ftyp' && /avi[fs]/.test(ascii(bytes, 8, Math.min(bytes.length, 32)))) return 'avif';
  return null;
}

export interface DecodeLimits {
  maxPixels: number;
}

/** Decodes and preprocesses one image; errors name the file. */
export async function imageToTensor(bytes: Uint8Array, file: string, p: Preprocess, limits: DecodeLimits): Promise<Float32Array> {
  if (bytes.length === 0) throw new AppError(400, 'EMPTY_IMAGE', `${file}: expected image bytes; received an empty file`, { file, field: 'image' });
  const format = sniffFormat(bytes);
  if (!format) {
    throw new AppError(415, 'UNSUPPORTED_IMAGE_TYPE', `${file}: expected an image of type ${SUPPORTED_FORMATS.join(', ')}; received bytes that are none of them`, { file, field: 'image', expected: SUPPORTED_FORMATS.join(', ') });
  }
  const [h, w] = p.size;
  let raw: { data: Buffer; info: OutputInfo };
  try {
    let img = sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 })
      .rotate() // EXIF orientation
      .flatten({ background: '#ffffff' });
    img = p.channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
    if (p.resize === 'crop') {
      // Shorter side to size/cropFraction (a centred cover crop to sw×sh), then the centre w×h.
      // extract() chained after resize() applies to the resized image, in the same pipeline.
      const sh = Math.round(h / p.cropFraction);
      const sw = Math.round(w / p.cropFraction);
      img = img.resize({ width: sw, height: sh, fit: 'cover', position: 'centre' })
        .extract({ left: Math.floor((sw - w) / 2), top: Math.floor((sh - h) / 2), width: w, height: h });
    } else {
      img = img.resize({ width: w, height: h, fit: 'fill' });
    }
    raw = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new AppError(413, 'IMAGE_TOO_LARGE', `${file}: expected at most ${limits.maxPixels} pixels; the image has more`, { file, field: 'image', limitPixels: limits.maxPixels });
    }
    throw new AppError(400, 'CORRUPT_IMAGE', `${file}: the ${format} image cannot be decoded (${message.split('\n')[0]})`, { file, field: 'image', format });
  }
  const channels = raw.info.channels;
  if (raw.info.width !== w || raw.info.height !== h || (channels !== p.channels && !(p.channels === 3 && channels === 4))) {
    throw new AppError(400, 'CORRUPT_IMAGE', `${file}: decoded to ${raw.info.width}x${raw.info.height}x${channels}, expected ${w}x${h}x${p.channels}`, { file });
  }
  const out = new Float32Array(h * w * p.channels);
  const bgr = p.channelOrder === 'BGR' && p.channels === 3;
  for (let i = 0, o = 0; o < out.length; i += channels, o += p.channels) {
    for (let c = 0; c < p.channels; c++) {
      const src = raw.data[i + (bgr ? 2 - c : c)];
      out[o + c] = (src * p.scale - p.mean[c]) / p.std[c];
    }
  }
  return out;
}
