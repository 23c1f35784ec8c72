// Weight files: each format reads, key styles are detected, and every way a file can be wrong is
// refused with an error that names the layer and the expected and found shapes.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inferShapes } from '../../src/spec/shapes.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { ArchitectureSpec } from '../../src/spec/types.js';
import { bindWeights, detectKeyStyle } from '../../src/weights/bind.js';
import { permute } from '../../src/weights/permute.js';
import { readWeightFile } from '../../src/weights/load.js';
import { readSafetensors, writeSafetensors } from '../../src/weights/safetensors.js';
import { WeightsError, type RawTensor } from '../../src/weights/types.js';
import { fixture } from '../helpers/engine.js';

const dir = mkdtempSync(path.join(tmpdir(), 'weights-'));

/** Our writer (src) feeds our reader; the F16 case below is written byte by byte instead. */
function writeSafetensorsFile(file: string, tensors: Record<string, RawTensor>) {
  writeFileSync(file, writeSafetensors(Object.entries(tensors)));
}

const tiny: ArchitectureSpec = {
  input: [4, 4, 2],
  layers: [
    { kind: 'conv2d', name: 'c', filters: 3, kernel: 3, padding: 'same' },
    { kind: 'batchnorm', name: 'b' },
    { kind: 'globalavgpool', name: 'g' },
    { kind: 'dense', name: 'd', units: 2 },
  ],
};
const shaped = inferShapes(normalizeSpec(tiny));
const filled = (shape: number[], start = 0) => ({
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => start + i),
});
const ours: Record<string, RawTensor> = {
  'c/kernel': filled([3, 3, 2, 3]),
  'c/bias': filled([3]),
  'b/gamma': filled([3]),
  'b/beta': filled([3]),
  'b/moving_mean': filled([3]),
  'b/moving_variance': filled([3], 1),
  'd/kernel': filled([3, 2]),
  'd/bias': filled([2]),
};

t.test('safetensors keyed by layer names binds exactly', async (t) => {
  const file = path.join(dir, 'ours.safetensors');
  writeSafetensorsFile(file, ours);
  const read = await readWeightFile(file);
  t.equal(read.format, 'safetensors');
  const { bound, keyStyle } = bindWeights(shaped, read.tensors);
  t.equal(keyStyle, 'layer-names');
  t.equal(bound.length, 8);
  t.same(
    Array.from(bound.find((b) => b.layer === 'c' && b.weight === 'kernel')!.data.slice(0, 3)),
    [0, 1, 2],
  );
});

t.test('F16 safetensors are widened to float32', async (t) => {
  const file = path.join(dir, 'half.safetensors');
  // 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800 in IEEE half precision.
  const header = JSON.stringify({ x: { dtype: 'F16', shape: [3], data_offsets: [0, 6] } });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.from([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]);
  writeFileSync(file, Buffer.concat([len, Buffer.from(header), data]));
  t.same(Array.from(readSafetensors(new Uint8Array(readFileSync(file))).get('x')!.data), [1, -2, 0.5]);
});

t.test('torchvision keys are detected and converted OIHW → HWIO, [out,in] → [in,out]', async (t) => {
  t.equal(detectKeyStyle(['conv1.weight', 'bn1.running_mean', 'fc.bias']), 'torchvision');
  t.equal(detectKeyStyle(['conv1/kernel']), 'layer-names');
  // A 2x3 matrix transposed, and a 4-D permutation checked element by element.
  t.same(Array.from(permute(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]).data), [1, 4, 2, 5, 3, 6]);
  const oihw = filled([3, 2, 3, 3]);
  const hwio = permute(oihw.data, oihw.shape, [2, 3, 1, 0]);
  t.same(hwio.shape, [3, 3, 2, 3]);
  const at = (o: number, i: number, h: number, w: number) => oihw.data[((o * 2 + i) * 3 + h) * 3 + w];
  t.equal(
    hwio.data[((2 * 3 + 1) * 2 + 1) * 3 + 2],
    at(2, 1, 2, 1),
    'hwio[h=2,w=1,i=1,o=2] = oihw[o=2,i=1,h=2,w=1]',
  );
});

t.test('tfjs manifest (model.json + shards) reads across shard boundaries', async (t) => {
  const mdir = mkdtempSync(path.join(dir, 'tfjs-'));
  const entries = Object.entries(ours);
  const all = Buffer.concat(entries.map(([, v]) => Buffer.from(new Float32Array(v.data).buffer)));
  const cut = 50; // not on a tensor boundary, as the converter's 4 MB shards are not
  writeFileSync(path.join(mdir, 'group1-shard1of2.bin'), all.subarray(0, cut));
  writeFileSync(path.join(mdir, 'group1-shard2of2.bin'), all.subarray(cut));
  writeFileSync(
    path.join(mdir, 'model.json'),
    JSON.stringify({
      format: 'layers-model',
      generatedBy: 'keras v2.13.1',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: {},
      weightsManifest: [
        {
          paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
          weights: entries.map(([name, v]) => ({ name, shape: v.shape, dtype: 'float32' })),
        },
      ],
    }),
  );
  const read = await readWeightFile(path.join(mdir, 'model.json'));
  t.equal(read.format, 'tfjs-manifest');
  const { bound } = bindWeights(shaped, read.tensors);
  t.same(Array.from(bound.find((b) => b.layer === 'd' && b.weight === 'bias')!.data), [0, 1]);
  t.same(Array.from(bound.find((b) => b.layer === 'b' && b.weight === 'moving_variance')!.data), [1, 2, 3]);
});

t.test('Keras H5 reads by layer_names and weight_names', async (t) => {
  const read = await readWeightFile(fixture('keras/small_resnet_like.h5').pathname);
  t.equal(read.format, 'keras-h5');
  t.same([...read.tensors.keys()].sort(), [
    'conv1_bn/beta',
    'conv1_bn/gamma',
    'conv1_bn/moving_mean',
    'conv1_bn/moving_variance',
    'conv1_conv/bias',
    'conv1_conv/kernel',
    'predictions/bias',
    'predictions/kernel',
  ]);
  t.same(read.tensors.get('conv1_conv/kernel')!.shape, [3, 3, 1, 8]);
});

t.test('every way a file can be wrong is refused with a precise error', async (t) => {
  const refuse = async (
    name: string,
    tensors: Record<string, RawTensor>,
    pattern: RegExp,
    problem: object,
  ) => {
    const file = path.join(dir, `${name}.safetensors`);
    writeSafetensorsFile(file, tensors);
    const { tensors: read } = await readWeightFile(file);
    try {
      bindWeights(shaped, read);
      t.fail(`${name}: should be refused`);
    } catch (err) {
      t.type(err, WeightsError, name);
      t.match((err as Error).message, pattern, `${name}: ${(err as Error).message}`);
      t.match((err as WeightsError).problems, [problem]);
    }
  };
  const { 'd/bias': _dropped, ...missing } = ours;
  await refuse('missing', missing, /missing d\/bias \(expected \[2\]\)/, {
    problem: 'missing',
    layer: 'd',
    weight: 'bias',
  });
  await refuse(
    'shape',
    { ...ours, 'c/kernel': filled([3, 3, 2, 4]) },
    /c\/kernel: expected \[3, 3, 2, 3\], found \[3, 3, 2, 4\]/,
    { problem: 'shape', layer: 'c', expected: [3, 3, 2, 3], found: [3, 3, 2, 4] },
  );
  await refuse('unexpected', { ...ours, 'extra/kernel': filled([1]) }, /unexpected weight extra\/kernel/, {
    problem: 'unexpected',
    key: 'extra/kernel',
  });

  const good = path.join(dir, 'ours.safetensors');
  const bytes = readFileSync(good);
  writeFileSync(path.join(dir, 'truncated.safetensors'), bytes.subarray(0, bytes.length - 10));
  await t.rejects(
    readWeightFile(path.join(dir, 'truncated.safetensors')),
    /do not fit|truncated/i,
    'truncated safetensors',
  );
  writeFileSync(
    path.join(dir, 'notweights.bin'),
    Buffer.from('this is a text file, not weights at all\n'.repeat(10)),
  );
  await t.rejects(
    readWeightFile(path.join(dir, 'notweights.bin')),
    /not safetensors, a tfjs model.json manifest or Keras HDF5/,
  );
  await t.rejects(
    readWeightFile(fixture('keras/truncated.h5').pathname),
    /cannot be opened|truncated/i,
    'truncated H5',
  );
  await t.rejects(readWeightFile(path.join(dir, 'does-not-exist')), /cannot be read/);
});
