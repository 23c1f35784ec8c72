/**
 * The plainest PNGs, read in JS: 8-bit grey or RGB, not interlaced, nothing in them that changes a
 * pixel's value (no palette, transparency, gamma, colour profile or EXIF). Their samples are the
 * pixels libvips would hand back, so an image of exactly the model's size needs no libvips at all.
 * That matters for small models: libvips' fixed cost per image (about 0.35 ms of CPU to read a
 * header, 1.5 ms to decode even a 28x28 PNG, most of it hand-offs between threads) is several
 * times what the default Fashion-MNIST models spend computing it. Anything else, or anything
 * malformed, is left to libvips, which also words the errors.
 */
import { inflateSync } from 'node:zlib';

/** A PNG's chunks, walked without decoding: what its header says and which chunks it holds. */
export interface PngLayout {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlaced: boolean;
  /** The chunk types in file order. */
  chunks: string[];
  /** The IDAT chunks' data, in order. */
  data: Uint8Array[];
  /** The file, whose chunks' CRCs are checked only when the image is plain (a large PNG's would cost the event loop). */
  bytes: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Chunks that change no pixel value: text, physical size, time. Anything else goes to libvips. */
const INERT_CHUNKS = new Set(['IHDR', 'IDAT', 'IEND', 'tEXt', 'zTXt', 'iTXt', 'pHYs', 'tIME']);

/** PNG's colour types with 8-bit samples read as they are: 0 grey (1 channel), 2 RGB (3). */
const CHANNELS_OF_COLOUR_TYPE: Record<number, 1 | 3> = { 0: 1, 2: 3 };

/** Images up to this many samples are unfiltered on the event loop (about 0.1 ms); larger ones go to libvips' threads. */
export const PLAIN_PNG_MAX_SAMPLES = 65_536;

const CRC_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-32 as PNG computes it, over a chunk's type and data (Node 20 has no zlib.crc32). */
function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * The PNG's chunk layout, or undefined when it does not parse as one (no signature, a chunk running
 * past the end, no IHDR first, nothing after IEND allowed): such files are left to libvips.
 */
export function readPngLayout(bytes: Uint8Array): PngLayout | undefined {
  if (bytes.length < 8 + 25 || SIGNATURE.some((b, i) => bytes[i] !== b)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: string[] = [];
  const data: Uint8Array[] = [];
  let header: Pick<PngLayout, 'width' | 'height' | 'bitDepth' | 'colourType' | 'interlaced'> | undefined;
  let at = 8;
  while (at + 12 <= bytes.length) {
    const length = view.getUint32(at);
    const end = at + 12 + length;
    if (end > bytes.length) return undefined;
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if (chunks.length === 0) {
      if (type !== 'IHDR' || length !== 13) return undefined;
      header = {
        width: view.getUint32(at + 8),
        height: view.getUint32(at + 12),
        bitDepth: bytes[at + 16],
        colourType: bytes[at + 17],
        interlaced: bytes[at + 20] !== 0,
      };
    }
    chunks.push(type);
    if (type === 'IDAT') data.push(bytes.subarray(at + 8, at + 8 + length));
    at = end;
    if (type === 'IEND') break;
  }
  if (!header || chunks[chunks.length - 1] !== 'IEND' || at !== bytes.length) return undefined;
  return { ...header, chunks, data, bytes };
}

/** Whether every chunk's CRC matches: libvips refuses a file whose critical chunk's does not. */
function crcsMatch(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 12 <= bytes.length; ) {
    const end = at + 8 + view.getUint32(at);
    if (crc32(bytes, at + 4, end) !== view.getUint32(end)) return false;
    at = end + 4;
  }
  return true;
}

/**
 * The image's 8-bit HWC samples when it is plain and has `channels` channels (see the file's
 * comment) and at most PLAIN_PNG_MAX_SAMPLES samples; undefined otherwise, for libvips to decode.
 */
export function decodePlainPng(layout: PngLayout, channels: number): Uint8Array | undefined {
  const { width, height } = layout;
  if (
    layout.bitDepth !== 8 ||
    CHANNELS_OF_COLOUR_TYPE[layout.colourType] !== channels ||
    layout.interlaced ||
    width < 1 ||
    height < 1 ||
    width * height * channels > PLAIN_PNG_MAX_SAMPLES ||
    // Room for the deflated samples and some text; a larger file is not what it claims to be.
    layout.bytes.length > 4 * PLAIN_PNG_MAX_SAMPLES ||
    layout.chunks.some((type) => !INERT_CHUNKS.has(type)) ||
    !crcsMatch(layout.bytes)
  )
    return undefined;
  const stride = width * channels;
  let filtered: Uint8Array;
  try {
    filtered = inflateSync(Buffer.concat(layout.data));
  } catch {
    return undefined;
  }
  if (filtered.length !== height * (stride + 1)) return undefined;
  return unfilter(filtered, width, height, channels);
}

/** PNG's five row filters undone (samples of 8 bits, `bpp` bytes per pixel); undefined on an unknown filter. */
function unfilter(filtered: Uint8Array, width: number, height: number, bpp: number): Uint8Array | undefined {
  const stride = width * bpp;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = filtered[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const up = row - stride; // the row above in `out`; y = 0 reads zeros instead
    switch (filter) {
      case 0:
        out.set(filtered.subarray(src, src + stride), row);
        break;
      case 1:
        for (let i = 0; i < stride; i++)
          out[row + i] = filtered[src + i] + (i >= bpp ? out[row + i - bpp] : 0);
        break;
      case 2:
        for (let i = 0; i < stride; i++) out[row + i] = filtered[src + i] + (y > 0 ? out[up + i] : 0);
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const left = i >= bpp ? out[row + i - bpp] : 0;
          const above = y > 0 ? out[up + i] : 0;
          out[row + i] = filtered[src + i] + ((left + above) >> 1);
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? out[row + i - bpp] : 0;
          const b = y > 0 ? out[up + i] : 0;
          const c = i >= bpp && y > 0 ? out[up + i - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a),
            pb = Math.abs(p - b),
            pc = Math.abs(p - c);
          out[row + i] = filtered[src + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        return undefined;
    }
  }
  return out;
}
