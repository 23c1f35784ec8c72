// A build that owns its weights (InferenceOptions.inPlace: an inference worker's freshly read file)
// folds batch norms and permutes kernels where they are. It must produce the very same model bytes
// as a build that copies, and it must not rewrite weights that share memory.
import t from 'tap';
import { ZOO } from '../../models/index.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { buildOnnxModel } from '../../src/interop/onnx/emit.js';
import { shareMemory } from '../../src/spec/passes/index.js';
import { permute, permute4InPlace } from '../../src/weights/permute.js';
import type { BoundWeight } from '../../src/spec/types.js';
import { randomWeights } from '../../bench/lib/random.js';

const copyOf = (bound: BoundWeight[]) => bound.map((w) => ({ ...w, data: w.data.slice() }));
const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
/** Whether every weight holds the same bits (a deep compare of ResNet-50's 25M values would take a minute). */
const sameWeights = (a: BoundWeight[], b: BoundWeight[]) =>
  a.length === b.length && a.every((w, i) => Buffer.compare(bytes(w.data), bytes(b[i].data)) === 0);

t.test('permute4InPlace writes what permute returns, for every axis order', async (t) => {
  const shape = [3, 2, 4, 5];
  const data = Float32Array.from({ length: 120 }, (_, i) => i * 1.5 - 7);
  for (const perm of [
    [3, 2, 0, 1],
    [2, 3, 1, 0],
    [0, 1, 2, 3],
    [1, 0, 3, 2],
  ]) {
    const expected = permute(data, shape, perm);
    const inPlace = data.slice();
    const outShape = permute4InPlace(inPlace, shape, perm, new Float32Array(200));
    t.same(outShape, expected.shape, `shape for [${perm}]`);
    t.same([...inPlace], [...expected.data], `values for [${perm}]`);
  }
  t.throws(() => permute4InPlace(data.slice(), shape, [3, 2, 0, 1], new Float32Array(10)), RangeError);
});

t.test('shareMemory finds overlapping views and only those', async (t) => {
  const buffer = new ArrayBuffer(64);
  const a = new Float32Array(buffer, 0, 4);
  const b = new Float32Array(buffer, 16, 4);
  const c = new Float32Array(buffer, 8, 4); // overlaps a and b
  t.equal(shareMemory([a, b, new Float32Array(8)]), false);
  t.equal(shareMemory([b, a, c]), true);
  t.equal(shareMemory([a, new Float32Array(buffer, 0, 0)]), false, 'an empty view overlaps nothing');
});

for (const [model, input] of [
  ['mobilenet_v3_small_tv', [64, 64, 3]],
  ['fashion_inception', undefined],
] as const) {
  t.test(`${model}: an in-place build emits the bytes a copying build emits`, async (t) => {
    const graph = normalizeSpec(ZOO.get(model)!.build(input ? { input: [...input] } : {}));
    const bound = randomWeights(inferShapes(graph), 7);
    const untouched = copyOf(bound);
    const copied = buildOnnxModel(graph, bound, { logits: true });
    t.ok(sameWeights(bound, untouched), 'a copying build leaves the weights as they were');
    const owned = copyOf(bound);
    const inPlace = buildOnnxModel(graph, owned, { logits: true, inPlace: true });
    t.equal(Buffer.compare(bytes(inPlace), bytes(copied)), 0, 'identical model bytes');
    const kernel = owned.findIndex((w) => w.weight === 'kernel' && w.shape.length === 4);
    t.not(
      owned[kernel].data[1],
      untouched[kernel].data[1],
      'the owned kernels were rewritten (folded and permuted)',
    );
  });
}

t.test('weights that share memory are copied, not rewritten twice', async (t) => {
  const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
  const bound = randomWeights(inferShapes(graph), 9);
  const expected = buildOnnxModel(graph, copyOf(bound), { logits: true });
  // Two weights over the same bytes (a file whose offsets overlap): in place would scale them twice.
  const aliased = copyOf(bound);
  const [first, second] = aliased.filter((w) => w.weight === 'kernel').slice(0, 2);
  const pool = new Float32Array(first.data.length + second.data.length);
  pool.set(first.data);
  pool.set(second.data, first.data.length);
  first.data = pool.subarray(0, first.data.length);
  second.data = pool.subarray(first.data.length - 1, first.data.length - 1 + second.data.length);
  const before = pool.slice();
  buildOnnxModel(graph, aliased, { logits: true, inPlace: true });
  t.equal(Buffer.compare(bytes(pool), bytes(before)), 0, 'nothing was rewritten');
  const owned = buildOnnxModel(graph, copyOf(bound), { logits: true, inPlace: true });
  t.equal(Buffer.compare(bytes(owned), bytes(expected)), 0, 'without the overlap, in place matches');
});
