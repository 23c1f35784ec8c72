/**
 * A model's precision at load: which one (config.json's `precision`, else PRECISION), the
 * calibration images its folder provides (decoded and preprocessed exactly as served images are),
 * and the verdict on what int8 costs against fp32 on them. The figures are measured, never assumed:
 * a precision whose cost exceeds the limits is refused with them (docs/precision.md).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CalibrationSet, PrecisionFigures, Precision } from '../engines/types.js';
import { decodeImage, probeImage } from './preprocess.js';
import { pixelsToInput } from '../engines/pixels.js';
import { int8WeightLimit } from '../engines/int8-weights.js';
import { fileInFolder, ModelConfigError, type ModelConfig, type Preprocess } from './model-config.js';

/** Top-1 agreement with fp32 below this refuses a precision (config can only raise it). */
export const MIN_AGREEMENT = 0.99;
/** Accuracy (in points) lost against fp32 beyond this refuses a precision (config can only lower it). */
export const MAX_ACCURACY_DROP = 0.5;
/** Calibration images read at most, the first in name order. */
export const MAX_CALIBRATION_IMAGES = 1000;
const IMAGE_FILE = /\.(png|jpe?g|webp|gif|tiff?|avif)$/i;
/** How the int8 model was built (the workers quantize on this machine, so with its weight limit). */
const how = () =>
  'static QDQ: uint8 activations per tensor (min/max of the calibration images), int8 weights per output channel' +
  (int8WeightLimit() === 127
    ? ''
    : ' within +-64 (this CPU has no VNNI: products of full-range weights saturate)');

/** What /models/{name} shows of a reduced precision: how it compared with fp32, and the limits it met. */
export interface PrecisionCheck {
  method: string;
  /** The calibration folder, relative to the model's folder. */
  calibration: string;
  images: number;
  /** Share of the calibration images whose top-1 equals fp32's. */
  agreement: number;
  minAgreement: number;
  /** With labels for the calibration images: accuracy in percent at fp32 and at this precision. */
  fp32Accuracy?: number;
  accuracy?: number;
  maxAccuracyDrop: number;
}

export class PrecisionRefusedError extends Error {
  constructor(
    message: string,
    readonly check?: PrecisionCheck,
  ) {
    super(message);
    this.name = 'PrecisionRefusedError';
  }
}

/** config.json's `precision` wins over PRECISION. */
export function resolvePrecision(config: ModelConfig, env: Precision): Precision {
  return config.precision ?? env;
}

/** One calibration label: a class name from the model's labels, or a class index. */
function classIndex(label: string, classes: string[], where: string): number {
  const byName = classes.indexOf(label);
  if (byName >= 0) return byName;
  if (/^\d+$/.test(label) && Number(label) < classes.length) return Number(label);
  throw new ModelConfigError(
    `${where}: expected a class of the model's labels or an index below ${classes.length}; received ${JSON.stringify(label)}`,
  );
}

/**
 * The images of the calibration folder (the first MAX_CALIBRATION_IMAGES by name), preprocessed
 * as `p`, and their classes when config.json's calibration.labels names a file of `image,class` lines.
 */
export async function readCalibrationSet(
  dir: string,
  calibration: NonNullable<ModelConfig['calibration']>,
  p: Preprocess,
  classes: string[],
): Promise<{ set: CalibrationSet; labels?: number[] }> {
  const folder = fileInFolder(dir, calibration.images, 'calibration.images');
  const names = (
    await readdir(folder).catch((err: Error) => {
      throw new ModelConfigError(`calibration.images: cannot read ${calibration.images}: ${err.message}`);
    })
  )
    .filter((f) => IMAGE_FILE.test(f))
    .sort()
    .slice(0, MAX_CALIBRATION_IMAGES);
  if (names.length === 0)
    throw new ModelConfigError(`calibration.images: no image files in ${calibration.images}`);
  const per = p.size[0] * p.size[1] * p.channels;
  const input = new Float32Array(names.length * per);
  for (const [i, name] of names.entries()) {
    const bytes = await readFile(path.join(folder, name));
    const probed = await probeImage(bytes, `${calibration.images}/${name}`, { maxPixels: 100_000_000 });
    pixelsToInput(await decodeImage(probed, p), input, i * per);
  }
  const set = { input, n: names.length };
  if (!calibration.labels) return { set };
  const file = fileInFolder(dir, calibration.labels, 'calibration.labels');
  const byImage = new Map<string, number>();
  for (const [i, line] of (await readFile(file, 'utf8')).split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    const comma = line.indexOf(',');
    const where = `${calibration.labels} line ${i + 1}`;
    if (comma < 0)
      throw new ModelConfigError(`${where}: expected "image,class"; received ${JSON.stringify(line)}`);
    byImage.set(line.slice(0, comma).trim(), classIndex(line.slice(comma + 1).trim(), classes, where));
  }
  const labels = names.map((name) => {
    const c = byImage.get(name);
    if (c === undefined) throw new ModelConfigError(`${calibration.labels}: no class for image ${name}`);
    return c;
  });
  return { set, labels };
}

const percent = (x: number) => Number((100 * x).toFixed(2));

/**
 * The check of a precision's figures against the limits (config's, within the service's), or a
 * PrecisionRefusedError that gives every figure.
 */
export function judgePrecision(
  precision: Precision,
  figures: PrecisionFigures,
  labels: number[] | undefined,
  calibration: NonNullable<ModelConfig['calibration']>,
): PrecisionCheck {
  const n = figures.images;
  const agreement = figures.top1.filter((c, i) => c === figures.fp32Top1[i]).length / n;
  const check: PrecisionCheck = {
    method: how(),
    calibration: calibration.images,
    images: n,
    agreement: Number(agreement.toFixed(4)),
    minAgreement: calibration.minAgreement ?? MIN_AGREEMENT,
    maxAccuracyDrop: calibration.maxAccuracyDrop ?? MAX_ACCURACY_DROP,
  };
  if (labels) {
    const accuracy = (top1: number[]) => top1.filter((c, i) => c === labels[i]).length / n;
    check.fp32Accuracy = percent(accuracy(figures.fp32Top1));
    check.accuracy = percent(accuracy(figures.top1));
  }
  const drop =
    check.fp32Accuracy !== undefined && check.accuracy !== undefined
      ? check.fp32Accuracy - check.accuracy
      : 0;
  const problems = [
    ...(agreement < check.minAgreement
      ? [`top-1 agreement with fp32 ${percent(agreement)}% is below ${percent(check.minAgreement)}%`]
      : []),
    ...(drop > check.maxAccuracyDrop + 1e-9
      ? [
          `accuracy ${check.accuracy}% is ${drop.toFixed(2)} points below fp32's ${check.fp32Accuracy}% (at most ${check.maxAccuracyDrop} allowed)`,
        ]
      : []),
  ];
  if (problems.length)
    throw new PrecisionRefusedError(
      `precision ${precision} refused: on ${n} calibration images (${calibration.images}), ${problems.join('; ')}`,
      check,
    );
  return check;
}
