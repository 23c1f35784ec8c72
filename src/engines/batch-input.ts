/**
 * How a batch of model inputs travels from the batcher to an inference worker. Images decoded by the
 * service arrive as 8-bit pixels (./pixels.ts) and are normalised by the worker straight into the
 * engine's float32 input; tensors that arrive as floats (KServe v2 infer) travel as floats.
 *
 * Design: one batch may carry both kinds, and the batcher keeps one queue per model. Keeping the
 * kinds in separate queues would split the batches of a model served both ways, and a mixed batch
 * costs nothing extra: the floats and the pixels each travel packed back to back in one buffer
 * (both transferred, not copied), with one small descriptor per image saying which kind it is. The
 * worker allocates the input tensor, except for an all-float batch, whose floats are the input.
 */
import { type Normalization, type PixelImage, pixelsToInput } from './pixels.js';

/** One image as the batcher queues it: the model's float32 input, or decoded 8-bit pixels. */
export type BatchImage = Float32Array | PixelImage;

/** A pixel image without its pixels or its normalisation (those travel once per batch). */
export type PixelShape = Omit<PixelImage, 'pixels' | 'normalization'>;

export interface PackedBatch {
  n: number;
  /** float32 values per image in the engine's input. */
  elements: number;
  /** The float images, `elements` each, back to back in batch order; absent when there are none. */
  floats?: Float32Array;
  /** The pixel images' bytes, back to back in batch order; absent when there are none. */
  pixels?: Uint8Array;
  /** Per image, in order: null for a float image, the shape of its pixels for a pixel image. */
  shapes: (PixelShape | null)[];
  /** How the pixel images become input values (every image of a batch is for the same model). */
  normalization?: Normalization;
}

const isFloat = (image: BatchImage): image is Float32Array => image instanceof Float32Array;

function sameNormalization(a: Normalization, b: Normalization): boolean {
  const same = (x: number[], y: number[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return (
    a === b ||
    (a.size[0] === b.size[0] &&
      a.size[1] === b.size[1] &&
      a.channels === b.channels &&
      a.channelOrder === b.channelOrder &&
      a.scale === b.scale &&
      same(a.mean, b.mean) &&
      same(a.std, b.std))
  );
}

/** Packs `images` for one batch: each kind copied once into its own buffer. */
export function packBatch(images: readonly BatchImage[], elements: number): PackedBatch {
  let floatCount = 0;
  let pixelBytes = 0;
  let normalization: Normalization | undefined;
  for (const image of images) {
    if (isFloat(image)) {
      if (image.length !== elements)
        throw new Error(`expected ${elements} input values per image; received ${image.length}`);
      floatCount++;
      continue;
    }
    pixelBytes += image.pixels.length;
    normalization ??= image.normalization;
    if (!sameNormalization(normalization, image.normalization))
      throw new Error('the pixel images of one batch must share their normalisation');
    const [h, w] = image.normalization.size;
    if (h * w * image.normalization.channels !== elements)
      throw new Error(`expected images of ${elements} input values; a ${w}x${h} window has another count`);
  }
  const floats = floatCount > 0 ? new Float32Array(floatCount * elements) : undefined;
  const pixels = pixelBytes > 0 ? new Uint8Array(pixelBytes) : undefined;
  const shapes: (PixelShape | null)[] = [];
  let f = 0;
  let p = 0;
  for (const image of images) {
    if (isFloat(image)) {
      floats?.set(image, f);
      f += elements;
      shapes.push(null);
      continue;
    }
    pixels?.set(image.pixels, p);
    p += image.pixels.length;
    const { width, height, channels, enlarge } = image;
    shapes.push(enlarge ? { width, height, channels, enlarge } : { width, height, channels });
  }
  return { n: images.length, elements, floats, pixels, shapes, normalization };
}

/** A batch of float inputs only (`input` holds n images back to back); `input` is not copied. */
export function floatBatch(input: Float32Array, n: number): PackedBatch {
  return { n, elements: input.length / n, floats: input, shapes: new Array(n).fill(null) };
}

/** The buffers to transfer with a batch (the batch gives them up). */
export function batchTransfers(batch: PackedBatch): ArrayBuffer[] {
  return [batch.floats?.buffer, batch.pixels?.buffer].filter((b) => b !== undefined) as ArrayBuffer[];
}

/**
 * The engine's float32 input for a packed batch, n × elements: an all-float batch's floats as they
 * are; otherwise a new tensor, each pixel image enlarged (when it must be) and normalised into its
 * place, each float image copied into its own.
 */
export function batchInput(batch: PackedBatch): Float32Array {
  const { n, elements, floats, pixels, shapes, normalization } = batch;
  if (shapes.length !== n) throw new Error(`expected ${n} image descriptors; received ${shapes.length}`);
  if (!pixels) {
    if (!floats || floats.length !== n * elements)
      throw new Error(`expected ${n * elements} input values; received ${floats?.length ?? 0}`);
    return floats;
  }
  if (!normalization) throw new Error('a batch of pixel images needs its normalisation');
  const input = new Float32Array(n * elements);
  let f = 0;
  let p = 0;
  for (const [i, shape] of shapes.entries()) {
    if (shape === null) {
      if (!floats || f + elements > floats.length)
        throw new Error(`expected float values for image ${i}; the batch has too few`);
      input.set(floats.subarray(f, f + elements), i * elements);
      f += elements;
      continue;
    }
    const bytes = shape.width * shape.height * shape.channels;
    if (p + bytes > pixels.length) throw new Error(`expected pixels for image ${i}; the batch has too few`);
    pixelsToInput({ ...shape, pixels: pixels.subarray(p, p + bytes), normalization }, input, i * elements);
    p += bytes;
  }
  return input;
}
