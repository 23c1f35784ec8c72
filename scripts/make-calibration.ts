/**
 * Writes the default Fashion-MNIST models' calibration images (models/<name>/calibration/): the
 * first PER_CLASS images of each class of the TRAINING split, as the PNGs a client would send, and
 * labels.csv (`image,class`). The test split, on which `npm run eval` measures accuracy, is never used.
 *   tsx scripts/make-calibration.ts [--data /usr/share/datasets/fashion-mnist] [--per-class 20]
 * The training split comes from Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { readFashionSet } from '../src/cli/fashion-data.js';

const MODELS = ['fashion-resnet', 'fashion-inception'];
const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { data: { type: 'string' }, 'per-class': { type: 'string' } },
});
const perClass = Number(values['per-class'] ?? 20);
const set = readFashionSet(values.data ?? '/usr/share/datasets/fashion-mnist', 'train');
const classes = (await readFile(path.join(root, 'models', MODELS[0], 'labels.txt'), 'utf8'))
  .trim()
  .split('\n');
const chosen: number[] = [];
const taken = new Array(classes.length).fill(0);
for (let i = 0; i < set.images.length && chosen.length < perClass * classes.length; i++) {
  if (taken[set.labels[i]] < perClass) {
    taken[set.labels[i]]++;
    chosen.push(i);
  }
}
const pngs = await Promise.all(
  chosen.map((i) =>
    sharp(Buffer.from(set.images[i]), { raw: { width: set.cols, height: set.rows, channels: 1 } })
      .png({ compressionLevel: 9 })
      .toBuffer(),
  ),
);
const name = (i: number) => `train_${String(i).padStart(5, '0')}.png`;
for (const model of MODELS) {
  const dir = path.join(root, 'models', model, 'calibration');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await Promise.all(chosen.map((i, k) => writeFile(path.join(dir, name(i)), pngs[k])));
  await writeFile(
    path.join(dir, 'labels.csv'),
    chosen.map((i) => `${name(i)},${classes[set.labels[i]]}\n`).join(''),
  );
  console.log(`${dir}: ${chosen.length} training images, ${perClass} per class`);
}
