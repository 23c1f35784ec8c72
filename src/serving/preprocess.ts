/**
 * Image bytes → the model's input tensor, with sharp (libvips, off the event loop). The declared
 * content type is never trusted: the format is sniffed from the magic bytes. EXIF orientation is
 * applied, alpha is flattened onto white, CMYK and 16-bit images are converted to 8-bit sRGB (or
 * grey for 1-channel models), then the image is resized (stretch, or shorter side + centre crop)
 * and normalised as the model's `preprocess` says.
 */
import sharp, { type KernelEnum, type Metadata, type OutputInfo } from 'sharp';
import { AppError } from '../errors.js';
import { type DecodeCost, decodeCost } from './decode-cost.js';
import { type ImageFormat, SUPPORTED_FORMATS, sniffFormat } from './image-format.js';
import type { Interpolation, Preprocess } from './model-config.js';

// Images here are small and requests many: one libvips thread per operation, with the decode
// scheduler bounding how many run at once, leaves the cores to inference instead of oversubscribing
// them. No operation cache: every image is new, and cached pipelines would hold their memory.
sharp.concurrency(1);
sharp.cache(false);

/** Our filter names (the training libraries' words) as libvips kernels. */
const KERNELS: Record<Interpolation, keyof KernelEnum> = {
  bilinear: 'linear',
  bicubic: 'cubic',
  lanczos3: 'lanczos3',
  nearest: 'nearest',
};

export interface DecodeLimits {
  maxPixels: number;
  /** Per image, in megapixels of JPEG (see decode-cost.ts); unbounded when absent. */
  maxCost?: number;
  /** libvips stops a decode that runs longer (whole seconds; a backstop behind the cost bound). */
  timeoutSeconds?: number;
}

/** An image whose header has been read and whose decode cost is known and within bounds. */
export interface ProbedImage {
  bytes: Uint8Array;
  file: string;
  format: ImageFormat;
  width: number;
  height: number;
  /** EXIF orientation (1 to 8), from the same header read, so decoding need not read it again. */
  orientation?: number;
  decode: DecodeCost;
  limits: DecodeLimits;
}

/** Every decode reads the first frame or page only, sequentially, within the pixel limit. */
const decodeOptions = (limits: DecodeLimits) =>
  ({ limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1, sequentialRead: true }) as const;

function tooLarge(file: string, limits: DecodeLimits): AppError {
  return new AppError(
    413,
    'IMAGE_TOO_LARGE',
    `${file}: expected at most ${limits.maxPixels} pixels; the image has more`,
    { file, field: 'image', limitPixels: limits.maxPixels },
  );
}

function corrupt(file: string, format: ImageFormat, err: unknown): AppError {
  const message = (err as Error).message;
  return new AppError(
    400,
    'CORRUPT_IMAGE',
    `${file}: the ${format} image cannot be decoded (${message.split('\n')[0]})`,
    { file, field: 'image', format },
  );
}

/** Reads the image's header only: its format, size and what decoding it will cost. Errors name the file. */
export async function probeImage(
  bytes: Uint8Array,
  file: string,
  limits: DecodeLimits,
): Promise<ProbedImage> {
  if (bytes.length === 0)
    throw new AppError(400, 'EMPTY_IMAGE', `${file}: expected image bytes; received an empty file`, {
      file,
      field: 'image',
    });
  const format = sniffFormat(bytes);
  if (!format) {
    throw new AppError(
      415,
      'UNSUPPORTED_IMAGE_TYPE',
      `${file}: expected an image of type ${SUPPORTED_FORMATS.join(', ')}; received bytes that are none of them`,
      { file, field: 'image', expected: SUPPORTED_FORMATS.join(', ') },
    );
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, decodeOptions(limits)).metadata();
  } catch (err) {
    if (/pixel limit/i.test((err as Error).message)) throw tooLarge(file, limits);
    throw corrupt(file, format, err);
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width < 1 || height < 1) throw corrupt(file, format, new Error('no image size in its header'));
  if (width * height > limits.maxPixels) throw tooLarge(file, limits);
  const decode = decodeCost(format, width * height);
  if (limits.maxCost !== undefined && decode.cost > limits.maxCost) {
    throw new AppError(
      413,
      'IMAGE_TOO_COSTLY',
      `${file}: expected an image that costs at most ${limits.maxCost} to decode (MAX_DECODE_COST, in megapixels of JPEG); this ${width}x${height} ${format} costs ${Math.ceil(decode.cost)}`,
      { file, field: 'image', format, width, height, cost: Math.ceil(decode.cost), limit: limits.maxCost },
    );
  }
  return { bytes, file, format, width, height, orientation: meta.orientation, decode, limits };
}

/** Decodes and preprocesses one image; errors name the file. */
export async function imageToTensor(
  bytes: Uint8Array,
  file: string,
  p: Preprocess,
  limits: DecodeLimits,
): Promise<Float32Array> {
  return decodeImage(await probeImage(bytes, file, limits), p);
}

/** Decodes a probed image and preprocesses it as the model's `preprocess` says. */
export async function decodeImage(image: ProbedImage, p: Preprocess): Promise<Float32Array> {
  const { bytes, file, format, limits } = image;
  const [h, w] = p.size;
  const options = decodeOptions(limits);
  let raw: { data: Buffer; info: OutputInfo };
  let g: ResizeGeometry;
  let plan: ResamplePlan;
  try {
    // The probe's header read, not a second one: each costs the event loop about as much as
    // starting the decode itself (a V8 profile of /classify under load).
    g = resizeGeometry(uprightSize(image), p);
    plan = resamplePlan(g, p.interpolation, p.size);
    let img = sharp(bytes, options)
      .rotate() // EXIF orientation
      .flatten({ background: '#ffffff' });
    img = p.channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
    if (plan.resize) img = img.resize({ ...plan.resize, fit: 'fill' });
    if (plan.extract) img = img.extract({ left: g.left, top: g.top, width: w, height: h });
    if (limits.timeoutSeconds) img = img.timeout({ seconds: limits.timeoutSeconds });
    raw = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) throw tooLarge(file, limits);
    if (/timeout/i.test(message)) {
      throw new AppError(
        413,
        'IMAGE_TOO_COSTLY',
        `${file}: expected an image that decodes within ${limits.timeoutSeconds} s; this ${format} took longer`,
        { file, field: 'image', format },
      );
    }
    throw corrupt(file, format, err);
  }
  const channels = raw.info.channels;
  if (
    raw.info.width !== plan.width ||
    raw.info.height !== plan.height ||
    (channels !== p.channels && !(p.channels === 3 && channels === 4))
  ) {
    throw new AppError(
      400,
      'CORRUPT_IMAGE',
      `${file}: decoded to ${raw.info.width}x${raw.info.height}x${channels}, expected ${plan.width}x${plan.height}x${p.channels}`,
      { file },
    );
  }
  const window = plan.enlarge
    ? enlargeBilinear(raw.data, { width: plan.width, height: plan.height, channels }, g, w, h)
    : raw.data;
  return normalize(window, channels, p);
}

/** What libvips does to an image, and what it hands back. */
export interface ResamplePlan {
  resize?: { width: number; height: number; kernel: keyof KernelEnum };
  /** Cut the w×h window in the same pipeline, so libvips computes only it. */
  extract: boolean;
  /** Whether enlargeBilinear still has to enlarge and cut what libvips hands back. */
  enlarge: boolean;
  /** The size libvips hands back. */
  width: number;
  height: number;
}

/**
 * Bilinear: libvips shrinks like PIL (antialiased) but samples enlargements on a grid offset from
 * PIL's, so it shrinks only the axes that shrink; when an axis grows, enlargeBilinear does the
 * rest while reading the window. The other filters: libvips resizes. Either way the window is cut
 * inside libvips when nothing is left to enlarge: a 1x40000 image cropped to 256 wide would
 * otherwise be resized to 256x10240000 in full.
 */
export function resamplePlan(
  g: ResizeGeometry,
  interpolation: Interpolation,
  [h, w]: [number, number],
): ResamplePlan {
  const bilinear = interpolation === 'bilinear';
  const enlarge = bilinear && (g.width > g.srcWidth || g.height > g.srcHeight);
  const [width, height] = bilinear
    ? [Math.min(g.width, g.srcWidth), Math.min(g.height, g.srcHeight)]
    : [g.width, g.height];
  const resize =
    width !== g.srcWidth || height !== g.srcHeight
      ? { width, height, kernel: KERNELS[interpolation] }
      : undefined;
  if (enlarge) return { resize, extract: false, enlarge, width, height };
  return { resize, extract: g.width !== w || g.height !== h, enlarge, width: w, height: h };
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
  // Weights in 14-bit fixed point: integer arithmetic keeps this cheap on the event loop, and
  // rounding to 8 bits differs from PIL's 22-bit weights by at most one level, rarely.
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

/** Width and height as displayed: EXIF orientations 5 to 8 swap them; only the first page counts. */
export function uprightSize(meta: {
  width?: number;
  height?: number;
  pageHeight?: number;
  orientation?: number;
}): [number, number] {
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  return (meta.orientation ?? 1) >= 5 ? [height, width] : [width, height];
}

export interface ResizeGeometry {
  srcWidth: number;
  srcHeight: number;
  /** The resized image's size; the model's input is the window at (left, top) of it. */
  width: number;
  height: number;
  left: number;
  top: number;
}

/** Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it). */
const roundHalfEven = (x: number) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));

/**
 * Where to resize to and what to cut out, as torchvision does it. crop: the shorter side becomes
 * round(size / cropFraction) and the longer side floor(that · long / short) (Resize(256)), then the
 * centre window is taken with offsets round((resized − size) / 2) (CenterCrop(224)). stretch: both
 * sides to the input size.
 */
export function resizeGeometry(
  [srcWidth, srcHeight]: [number, number],
  p: Pick<Preprocess, 'size' | 'resize' | 'cropFraction'>,
): ResizeGeometry {
  const [h, w] = p.size;
  if (p.resize === 'stretch') return { srcWidth, srcHeight, width: w, height: h, left: 0, top: 0 };
  const shorter = Math.round(Math.max(h, w) / p.cropFraction);
  const [width, height] =
    srcWidth <= srcHeight
      ? [shorter, Math.max(shorter, Math.floor((shorter * srcHeight) / srcWidth))]
      : [Math.max(shorter, Math.floor((shorter * srcWidth) / srcHeight)), shorter];
  return {
    srcWidth,
    srcHeight,
    width,
    height,
    left: roundHalfEven((width - w) / 2),
    top: roundHalfEven((height - h) / 2),
  };
}

/**
 * A p.size image of 8-bit pixels with `sc` channels as the model's float32 HWC input: value =
 * (pixel·scale − mean[c]) / std[c], computed as pixel·a[c] + b[c]. The channel loop is unrolled:
 * this runs on the event loop.
 */
export function normalize(
  data: Uint8Array,
  sc: number,
  p: Pick<Preprocess, 'size' | 'channels' | 'channelOrder' | 'scale' | 'mean' | 'std'>,
): Float32Array {
  const [h, w] = p.size;
  const out = new Float32Array(h * w * p.channels);
  const [a0, a1, a2] = p.std.map((s) => p.scale / s);
  const [b0, b1, b2] = p.std.map((s, c) => -p.mean[c] / s);
  // Source channel feeding output channel c (BGR models read the pixel backwards).
  const [s0, s1, s2] = p.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  if (p.channels === 1) {
    for (let i = 0, o = 0; o < out.length; i += sc, o++) out[o] = data[i] * a0 + b0;
    return out;
  }
  for (let i = 0, o = 0; o < out.length; i += sc, o += 3) {
    out[o] = data[i + s0] * a0 + b0;
    out[o + 1] = data[i + s1] * a1 + b1;
    out[o + 2] = data[i + s2] * a2 + b2;
  }
  return out;
}
