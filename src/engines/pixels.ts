/**
 * The per-pixel half of preprocessing: a decoded image's 8-bit pixels → the model's float32 input.
 * It runs in the inference worker, writing each image straight into the batch's input tensor, so the
 * event loop only decodes (src/serving/preprocess.ts) and hands over 1 byte per value instead of 4.
 * Pure arithmetic, no sharp: the worker must not load libvips.
 */

/** Where the model's window lies in the resized image (src/serving/preprocess.ts resizeGeometry). */
export interface ResizeGeometry {
  srcWidth: number;
  srcHeight: number;
  /** The resized image's size; the model's input is the window at (left, top) of it. */
  width: number;
  height: number;
  left: number;
  top: number;
}

/**
 * The w×h window at (g.left, g.top) of the source enlarged to g.width×g.height, bilinear, as PIL
 * (torchvision's Resize) computes it: pixel centres aligned (src = (dst + 0.5)/scale − 0.5, edges
 * clamped), horizontal pass then vertical, each rounded to 8 bits. Only the window is computed.
 */
export function enlargeBilinear(
  src: Uint8Array,
  s: { width: number; height: number; channels: number },
  g: ResizeGeometry,
  w: number,
  h: number,
): Uint8Array {
  // Weights in 14-bit fixed point: integer arithmetic keeps this cheap, and rounding to 8 bits differs from PIL's 22-bit weights by at most one level, rarely.
  const ONE = 1 << 14,
    HALF = 1 << 13;
  const taps = (outStart: number, n: number, scale: number, limit: number) => {
    const i0 = new Int32Array(n),
      i1 = new Int32Array(n),
      f = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const x = Math.min(Math.max((outStart + k + 0.5) / scale - 0.5, 0), limit - 1);
      i0[k] = Math.floor(x);
      i1[k] = Math.min(i0[k] + 1, limit - 1);
      f[k] = Math.round((x - i0[k]) * ONE);
    }
    return { i0, i1, f };
  };
  const cx = taps(g.left, w, g.width / s.width, s.width);
  const cy = taps(g.top, h, g.height / s.height, s.height);
  const c = s.channels;
  // Pass 1: the source rows the window needs, resampled horizontally to w columns.
  const firstRow = cy.i0[0];
  const rows = cy.i1[h - 1] - firstRow + 1;
  const mid = new Uint8Array(rows * w * c);
  for (let r = 0; r < rows; r++) {
    const rowBase = (firstRow + r) * s.width * c;
    for (let x = 0, o = r * w * c; x < w; x++, o += c) {
      const p0 = rowBase + cx.i0[x] * c,
        p1 = rowBase + cx.i1[x] * c,
        fx = cx.f[x];
      for (let k = 0; k < c; k++) mid[o + k] = (src[p0 + k] * (ONE - fx) + src[p1 + k] * fx + HALF) >> 14;
    }
  }
  // Pass 2: vertically to h rows.
  const out = new Uint8Array(h * w * c);
  for (let y = 0, o = 0; y < h; y++) {
    const r0 = (cy.i0[y] - firstRow) * w * c,
      r1 = (cy.i1[y] - firstRow) * w * c,
      fy = cy.f[y];
    const gy = ONE - fy;
    for (let i = 0; i < w * c; i++, o++) out[o] = (mid[r0 + i] * gy + mid[r1 + i] * fy + HALF) >> 14;
  }
  return out;
}

/** What turning 8-bit pixels into the model's input needs (a subset of the model's Preprocess). */
export interface Normalization {
  /** [height, width] of the model's input. */
  size: [number, number];
  channels: 1 | 3;
  channelOrder: 'RGB' | 'BGR';
  scale: number;
  mean: number[];
  std: number[];
}

/**
 * One decoded image as libvips hands it back: HWC 8-bit pixels with `channels` per pixel (1 for
 * grey models, 3, or 4 where the source's alpha was kept; the model's channels are read from it).
 */
export interface PixelImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
  /**
   * Present when the model's window is still to be enlarged (bilinear, enlargeBilinear) out of
   * these pixels, with the enlargement's geometry; absent when the pixels are the window itself.
   */
  enlarge?: ResizeGeometry;
  normalization: Normalization;
}

/** The window's 8-bit pixels: `image.pixels` themselves, or enlarged out of them. */
export function pixelWindow(image: PixelImage): Uint8Array {
  const [h, w] = image.normalization.size;
  const { pixels, width, height, channels, enlarge } = image;
  if (pixels.length !== width * height * channels)
    throw new Error(`expected ${width}x${height}x${channels} pixels; received ${pixels.length} bytes`);
  if (!enlarge) {
    if (width !== w || height !== h)
      throw new Error(`expected a ${w}x${h} window of pixels; received ${width}x${height}`);
    return pixels;
  }
  return enlargeBilinear(pixels, { width, height, channels }, enlarge, w, h);
}

/**
 * The image as the model's float32 HWC input, written into `out` at `offset` (a fresh array when
 * `out` is absent): enlarged if it must be, then normalised.
 */
export function pixelsToInput(image: PixelImage, out?: Float32Array, offset = 0): Float32Array {
  const p = image.normalization;
  const target = out ?? new Float32Array(p.size[0] * p.size[1] * p.channels);
  normalizeInto(pixelWindow(image), image.channels, p, target, offset);
  return target;
}

/** normalizeInto into a fresh array. */
export function normalize(data: Uint8Array, sc: number, p: Normalization): Float32Array {
  const out = new Float32Array(p.size[0] * p.size[1] * p.channels);
  normalizeInto(data, sc, p, out, 0);
  return out;
}

/**
 * A p.size image of 8-bit pixels with `sc` channels as the model's float32 HWC input, written into
 * `out` from `offset`: value = (pixel·scale − mean[c]) / std[c], computed as pixel·a[c] + b[c]
 * (doubles, rounded once to float32 on store). The channel loop is unrolled: this runs per pixel.
 */
export function normalizeInto(
  data: Uint8Array,
  sc: number,
  p: Normalization,
  out: Float32Array,
  offset: number,
): void {
  const [h, w] = p.size;
  const end = offset + h * w * p.channels;
  if (end > out.length) throw new Error(`expected room for ${h * w * p.channels} values at ${offset}`);
  const [a0, a1, a2] = p.std.map((s) => p.scale / s);
  const [b0, b1, b2] = p.std.map((s, c) => -p.mean[c] / s);
  // Source channel feeding output channel c (BGR models read the pixel backwards).
  const [s0, s1, s2] = p.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  if (p.channels === 1) {
    for (let i = 0, o = offset; o < end; i += sc, o++) out[o] = data[i] * a0 + b0;
    return;
  }
  for (let i = 0, o = offset; o < end; i += sc, o += 3) {
    out[o] = data[i + s0] * a0 + b0;
    out[o + 1] = data[i + s1] * a1 + b1;
    out[o + 2] = data[i + s2] * a2 + b2;
  }
}
