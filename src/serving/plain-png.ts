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
  /** Whether it carries EXIF (an eXIf chunk, or a text chunk libvips reads EXIF from): orientation. */
  exif: boolean;
  /** The IDAT chunks' data, in order. */
  data: Uint8Array[];
  /** The file, whose chunks' CRCs are checked only when the image is plain. */
  bytes: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Chunks that change no pixel value: text, physical size, time. Anything else goes to libvips. */
const INERT_CHUNKS = new Set(['IHDR', 'IDAT', 'IEND', 'tEXt', 'zTXt', 'iTXt', 'pHYs', 'tIME']);
const TEXT_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt']);
/** Text keywords that ImageMagick and exiftool write EXIF under, which newer libvips reads (orientation). */
const EXIF_TEXT_KEYWORD = /^Raw profile type (exif|APP1)$/i;

/** PNG's colour types with 8-bit samples read as they are: 0 grey (1 channel), 2 RGB (3). */
const CHANNELS_OF_COLOUR_TYPE: Record<number, 1 | 3> = { 0: 1, 2: 3 };

/** The bit depths each colour type allows (PNG specification, 11.2.2). */
const BIT_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** libpng's default limit on either side; beyond it libvips refuses the header. */
const MAX_SIDE = 1_000_000;

/** Images up to this many samples are unfiltered on the event loop (about 0.1 ms); larger ones go to libvips' threads. */
export const PLAIN_PNG_MAX_SAMPLES = 65_536;

/**
 * Files larger than this are not walked: no plain PNG within PLAIN_PNG_MAX_SAMPLES needs more
 * (deflate adds bytes only to incompressible data, a few per 64 KB), and the walk runs on the
 * event loop. Nor more chunks than this: encoders write a handful.
 */
const MAX_FILE_BYTES = 4 * PLAIN_PNG_MAX_SAMPLES;
const MAX_CHUNKS = 64;

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

/** A text chunk's keyword: the Latin-1 bytes before its first NUL (at most 79). */
function keyword(bytes: Uint8Array, start: number, end: number): string {
  const nul = bytes.subarray(start, Math.min(end, start + 80)).indexOf(0);
  return nul < 0 ? '' : String.fromCharCode(...bytes.subarray(start, start + nul));
}

/**
 * The layout of a small, well-formed PNG, or undefined for libvips to read: larger than
 * MAX_FILE_BYTES or MAX_CHUNKS, a header the specification does not allow (sides 0 or past
 * libpng's limit, a bit depth the colour type does not take, a compression, filter or interlace
 * method other than PNG's), IDAT chunks not consecutive, a chunk running past the end, or anything
 * after IEND.
 */
export function readPngLayout(bytes: Uint8Array): PngLayout | undefined {
  if (bytes.length < 8 + 25 || bytes.length > MAX_FILE_BYTES || SIGNATURE.some((b, i) => bytes[i] !== b))
    return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: string[] = [];
  const data: Uint8Array[] = [];
  let exif = false;
  let at = 8;
  while (at + 12 <= bytes.length && chunks.length < MAX_CHUNKS) {
    const length = view.getUint32(at);
    const end = at + 12 + length;
    if (end > bytes.length) return undefined;
    const type = String.fromCharCode(bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]);
    if ((chunks.length === 0) !== (type === 'IHDR')) return undefined;
    if (type === 'IDAT') {
      // libpng refuses image data split by another chunk; joining it would accept what it refuses.
      if (data.length > 0 && chunks[chunks.length - 1] !== 'IDAT') return undefined;
      data.push(bytes.subarray(at + 8, at + 8 + length));
    }
    if (type === 'eXIf' || (TEXT_CHUNKS.has(type) && EXIF_TEXT_KEYWORD.test(keyword(bytes, at + 8, end - 4))))
      exif = true;
    chunks.push(type);
    at = end;
    if (type === 'IEND') break;
  }
  if (chunks[chunks.length - 1] !== 'IEND' || at !== bytes.length || view.getUint32(8) !== 13)
    return undefined;
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const [bitDepth, colourType, compression, filter, interlace] = bytes.subarray(24, 29);
  if (
    width < 1 ||
    height < 1 ||
    width > MAX_SIDE ||
    height > MAX_SIDE ||
    !BIT_DEPTHS[colourType]?.includes(bitDepth) ||
    compression !== 0 ||
    filter !== 0 ||
    interlace > 1
  )
    return undefined;
  return { width, height, bitDepth, colourType, interlaced: interlace === 1, chunks, exif, data, bytes };
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
    width * height * channels > PLAIN_PNG_MAX_SAMPLES ||
    layout.exif ||
    layout.chunks.some((type) => !INERT_CHUNKS.has(type)) ||
    !crcsMatch(layout.bytes)
  )
    return undefined;
  const expected = height * (width * channels + 1); // each row: its filter byte, then its samples
  let filtered: Uint8Array;
  try {
    // Never more than the image needs: a small file can inflate to hundreds of megabytes.
    filtered = inflateSync(Buffer.concat(layout.data), { maxOutputLength: expected + 1 });
  } catch {
    return undefined;
  }
  if (filtered.length !== expected) return undefined; // short, or longer than its header says
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
