// Batches as they travel to an inference worker (src/engines/batch-input.ts): 8-bit pixel images are
// packed at one byte per value and normalised by the worker into the engine's input with the same
// arithmetic as on the event loop (value = pixel·scale/std[c] − mean[c]/std[c], doubles rounded
// once to float32), in BGR order, for grey models and for sources whose alpha byte was kept;
// float images travel as floats, alone or beside pixel images in one batch.
import t from 'tap';
import { batchInput, batchTransfers, floatBatch, packBatch } from '../../src/engines/batch-input.js';
import {
  enlargeBilinear,
  type Normalization,
  type PixelImage,
  pixelsToInput,
} from '../../src/engines/pixels.js';
import { Batcher } from '../../src/serving/batcher.js';

/** The closed form, pixel by pixel: source channel `from[c]` of each `sc`-byte pixel feeds channel c. */
function oracle(window: Uint8Array, sc: number, p: Normalization): number[] {
  const from = p.channels === 1 ? [0] : p.channelOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const out: number[] = [];
  for (let i = 0; i < window.length; i += sc)
    for (const [c, s] of from.entries())
      out.push(Math.fround(window[i + s] * (p.scale / p.std[c]) + -p.mean[c] / p.std[c]));
  return out;
}

/** Bytes that differ from pixel to pixel and channel to channel. */
const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (i * 37 + seed * 11) % 256);

/** A 4x3 model input; identity normalisation unless `over` says otherwise. */
const norm = (over: Partial<Normalization>): Normalization => ({
  size: [3, 4],
  channels: 3,
  channelOrder: 'RGB',
  scale: 1,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  ...over,
});
const torch = norm({ scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
const caffe = norm({ channelOrder: 'BGR', mean: [103.939, 116.779, 123.68] });
const grey = norm({ channels: 1, scale: 1 / 255, mean: [0.5], std: [0.5] });

const windowOf = (p: Normalization, channels: number, seed: number): PixelImage => ({
  pixels: bytes(3 * 4 * channels, seed),
  width: 4,
  height: 3,
  channels,
  normalization: p,
});

t.test(
  'pixel images normalise into the input as the closed form says: RGB, BGR, grey, alpha kept',
  async (t) => {
    for (const [name, p, channels] of [
      ['RGB', torch, 3],
      ['RGB from RGBA', torch, 4],
      ['BGR', caffe, 3],
      ['grey', grey, 1],
    ] as const) {
      const a = windowOf(p, channels, 1);
      const b = windowOf(p, channels, 2);
      const batch = packBatch([a, b], 12 * p.channels);
      t.equal(batch.pixels?.length, 2 * 12 * channels, `${name}: one byte per source value travels`);
      t.equal(batch.floats, undefined, `${name}: no floats travel`);
      const input = batchInput(batch);
      t.same([...input], [...oracle(a.pixels, channels, p), ...oracle(b.pixels, channels, p)], name);
    }
  },
);

t.test('an image still to be enlarged is enlarged in the worker, then normalised', async (t) => {
  // A 2x2 source enlarged to 6x4 (torchvision-style crop of a small image), window 4x3 at (1, 0).
  const enlarge = { srcWidth: 2, srcHeight: 2, width: 6, height: 4, left: 1, top: 0 };
  const small: PixelImage = {
    pixels: bytes(2 * 2 * 3, 5),
    width: 2,
    height: 2,
    channels: 3,
    enlarge,
    normalization: torch,
  };
  const window = enlargeBilinear(small.pixels, { width: 2, height: 2, channels: 3 }, enlarge, 4, 3);
  const input = batchInput(packBatch([small], 36));
  t.same([...input], oracle(window, 3, torch));
  t.same([...pixelsToInput(small)], [...input], 'the event-loop path (Grad-CAM) computes the same values');
});

t.test('float and pixel images share a batch, each in its place', async (t) => {
  const f = Float32Array.from({ length: 36 }, (_, i) => i / 7);
  const a = windowOf(caffe, 3, 3);
  const b = windowOf(caffe, 4, 4);
  const batch = packBatch([a, f, b], 36);
  t.same(batch.shapes, [{ width: 4, height: 3, channels: 3 }, null, { width: 4, height: 3, channels: 4 }]);
  t.equal(batch.floats?.length, 36, 'only the float image travels as floats');
  t.equal(batchTransfers(batch).length, 2, 'both buffers are transferred');
  t.same([...batchInput(batch)], [...oracle(a.pixels, 3, caffe), ...f, ...oracle(b.pixels, 4, caffe)]);
});

t.test('an all-float batch is its own input; mismatched images are refused', async (t) => {
  const input = new Float32Array(72);
  const batch = floatBatch(input, 2);
  t.equal(batchInput(batch), input, 'no copy in the worker');
  t.throws(() => packBatch([new Float32Array(35)], 36), /expected 36 input values per image; received 35/);
  t.throws(
    () => packBatch([windowOf(torch, 3, 1), windowOf({ ...torch, mean: [0, 0, 0] }, 3, 1)], 36),
    /share their normalisation/,
  );
  t.throws(() => packBatch([windowOf(grey, 1, 1)], 36), /expected images of 36 input values/);
  t.throws(
    () => batchInput({ ...packBatch([windowOf(torch, 3, 1)], 36), normalization: undefined }),
    /normalisation/,
  );
});

t.test('the batcher packs pixel and float requests into one batch', async (t) => {
  const seen: { floats: number; pixels: number }[] = [];
  const b = new Batcher(
    'm',
    { maxBatch: 2, maxDelayMs: 1000, queueLimit: 8, concurrency: 1, timeoutMs: 5000 },
    async (batch) => {
      seen.push({ floats: batch.floats?.length ?? 0, pixels: batch.pixels?.length ?? 0 });
      const input = batchInput(batch);
      return Float32Array.from({ length: batch.n }, (_, i) => input[i * 36]);
    },
    36,
    1,
  );
  const a = windowOf(torch, 3, 6);
  const f = new Float32Array(36).fill(-2);
  const [pa, pf] = await Promise.all([b.submit([a]), b.submit([f])]);
  t.same(seen, [{ floats: 36, pixels: 36 }], 'one batch of both kinds');
  t.same([pa.logits[0][0], pf.logits[0][0]], [oracle(a.pixels, 3, torch)[0], -2]);
});
