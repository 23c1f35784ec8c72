/**
 * Image bytes → the model's input pixels, with sharp (libvips, off the event loop). The declared
 * content type is never trusted: the format is sniffed from the magic bytes. EXIF orientation is
 * applied, alpha is flattened onto white, CMYK and 16-bit images are converted to 8-bit sRGB (or
 * grey for 1-channel models), then the image is resized (stretch, or shorter side + centre crop)
 * as the model's `preprocess` says. What is left per pixel (a bilinear enlargement, normalisation)
 * is done by the inference worker, straight into the engine's input (src/engines/pixels.ts).
 * A plain PNG of exactly the model's size skips libvips: its samples are read in JS (plain-png.ts).
 */
import { imageSize } from 'image-size';
import sharp, { type KernelEnum, type OutputInfo } from 'sharp';
import { AppError } from '../errors.js';
import { type PixelImage, pixelsToInput, type ResizeGeometry } from '../engines/pixels.js';
import { type DecodeCost, decodeCost } from './decode-cost.js';
import { type ImageFormat, SUPPORTED_FORMATS, sniffFormat } from './image-format.js';
import { decodePlainPng, type PngLayout, readPngLayout } from './plain-png.js';
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
  /** A PNG's chunk layout, when it parsed: a plain one of the model's size is decoded without libvips. */
  png?: PngLayout;
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
  let header: { width: number; height: number; orientation?: number; png?: PngLayout };
  try {
    header = await readHeader(bytes, format, limits);
  } catch (err) {
    if (/pixel limit/i.test((err as Error).message)) throw tooLarge(file, limits);
    throw corrupt(file, format, err);
  }
  const { width, height } = header;
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
  const { orientation, png } = header;
  return { bytes, file, format, width, height, orientation, ...(png ? { png } : {}), decode, limits };
}

/**
 * The image's size and EXIF orientation from its header. A JPEG's is read here, in microseconds
 * (image-size reads the frame header and the EXIF orientation): asking libvips cost each image
 * about 1 ms of latency on these VMs, most of it the hand-off to and from its threads (0.9-1.2 ms
 * against 0.03 ms). So is a small PNG's, from its chunks, unless it carries EXIF (orientation) or
 * its header is not one libvips would read (readPngLayout). The other formats ask libvips, which
 * knows their frames and pages.
 */
async function readHeader(
  bytes: Uint8Array,
  format: ImageFormat,
  limits: DecodeLimits,
): Promise<{ width: number; height: number; orientation?: number; png?: PngLayout }> {
  if (format === 'jpeg') {
    const { width, height, orientation, type } = imageSize(bytes);
    if (type !== 'jpg') throw new Error(`its header reads as ${type}, its first bytes as ${format}`);
    return { width, height, ...(orientation === undefined ? {} : { orientation }) };
  }
  const png = format === 'png' ? readPngLayout(bytes) : undefined;
  if (png && !png.exif) return { width: png.width, height: png.height, png };
  const meta = await sharp(bytes, decodeOptions(limits)).metadata();
  return {
    width: meta.width ?? 0,
    height: meta.pageHeight ?? meta.height ?? 0,
    orientation: meta.orientation,
  };
}

/** Decodes and preprocesses one image into the model's float32 input; errors name the file. */
export async function imageToTensor(
  bytes: Uint8Array,
  file: string,
  p: Preprocess,
  limits: DecodeLimits,
): Promise<Float32Array> {
  return pixelsToInput(await decodeImage(await probeImage(bytes, file, limits), p));
}

/**
 * Decodes a probed image and resizes it as the model's `preprocess` says, to 8-bit pixels: the
 * model's window, or (bilinear enlargements) what the window is enlarged out of. pixelsToInput
 * makes them the model's input, in the inference worker for a batch.
 */
export async function decodeImage(image: ProbedImage, p: Preprocess): Promise<PixelImage> {
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
    const plain =
      image.png && !plan.resize && !plan.extract && !plan.enlarge
        ? decodePlainPng(image.png, p.channels)
        : undefined;
    if (plain) return { pixels: plain, width: w, height: h, channels: p.channels, normalization: p };
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
  return {
    pixels: raw.data,
    width: plan.width,
    height: plan.height,
    channels,
    ...(plan.enlarge ? { enlarge: g } : {}),
    // The model's own object: a batch's images then share it by reference (packBatch checks).
    normalization: p,
  };
}

/** What libvips does to an image, and what it hands back. */
export interface ResamplePlan {
  resize?: { width: number; height: number; kernel: keyof KernelEnum };
  /** Cut the w×h window in the same pipeline, so libvips computes only it. */
  extract: boolean;
  /** Whether enlargeBilinear (src/engines/pixels.ts) has to enlarge and cut what libvips hands back. */
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
