// Numeric tests of the places where ONNX and the spec's semantics can part ways: ceil mode, explicit
// and `same` padding, count_include_pad, dilation, groups, flatten order, scaled adds, and ONNX
// Runtime's own graph rewrites. Each small network runs through ONNX Runtime (optimisation level
// 'all') and is checked against a closed-form oracle written here in plain loops (PyTorch
// semantics for explicit padding and ceil mode, TensorFlow's for `same`), and against the tfjs
// engine where it supports the layer. Tolerance: 1e-5 relative to the largest |output|.
import t, { type Test } from 'tap';
import {
  avgPool,
  branches,
  conv,
  dense,
  dropout,
  flatten,
  globalMaxPool,
  maxPool,
  residual,
  act,
  bn,
  zeroPad,
} from '../../../models/layers.js';
import { outputLength, resolvePads, type Pads } from '../../../src/spec/geometry.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import { buildOnnxGraph } from '../../../src/interop/onnx/emit.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import type { ArchitectureSpec, Pair, Shape3 } from '../../../src/spec/types.js';
import type { BoundWeight } from '../../../src/weights/bind.js';
import type { RawTensor } from '../../../src/weights/types.js';
import { backendReady } from '../../helpers/engine.js';
import { relativeError, runOnnx, runTfjs } from '../../helpers/onnx.js';
import { randomInput, randomWeights } from '../../../bench/lib/random.js';

const TOL = 1e-5;

t.before(async () => {
  await backendReady();
});

/** An NHWC batch with its per-image shape. */
interface Batch {
  n: number;
  h: number;
  w: number;
  c: number;
  data: Float32Array;
}
const batch = (x: RawTensor): Batch => ({
  n: x.shape[0],
  h: x.shape[1],
  w: x.shape[2],
  c: x.shape[3],
  data: x.data,
});
const at = (b: Batch, n: number, i: number, j: number, c: number) =>
  b.data[((n * b.h + i) * b.w + j) * b.c + c];

/**
 * Pooling in PyTorch's terms: windows start at −pads.top/−pads.left; max ignores padding; the
 * average divides by the cells inside the padded input (includePad) or inside the input itself.
 */
function poolOracle(
  x: Batch,
  mode: 'max' | 'avg',
  k: Pair,
  s: Pair,
  pads: Pads,
  out: Pair,
  includePad: boolean,
): Float32Array {
  const y = new Float32Array(x.n * out[0] * out[1] * x.c);
  let o = 0;
  for (let n = 0; n < x.n; n++) {
    for (let oi = 0; oi < out[0]; oi++) {
      for (let oj = 0; oj < out[1]; oj++) {
        for (let c = 0; c < x.c; c++) {
          let acc = mode === 'max' ? -Infinity : 0;
          let count = 0;
          for (let di = 0; di < k[0]; di++) {
            for (let dj = 0; dj < k[1]; dj++) {
              const i = oi * s[0] - pads.top + di;
              const j = oj * s[1] - pads.left + dj;
              const inside = i >= 0 && i < x.h && j >= 0 && j < x.w;
              const inPadded =
                i >= -pads.top && i < x.h + pads.bottom && j >= -pads.left && j < x.w + pads.right;
              if (mode === 'max') {
                if (inside) acc = Math.max(acc, at(x, n, i, j, c));
              } else {
                if (inside) acc += at(x, n, i, j, c);
                if (includePad ? inPadded : inside) count++;
              }
            }
          }
          y[o++] = mode === 'max' ? acc : acc / count;
        }
      }
    }
  }
  return y;
}

/** Convolution with explicit pads, dilation and groups; kernel HWIO [kh, kw, Cin/groups, Cout]. */
function convOracle(
  x: Batch,
  kernel: BoundWeight,
  bias: BoundWeight | undefined,
  s: Pair,
  d: Pair,
  pads: Pads,
  groups: number,
  out: Pair,
): Float32Array {
  const [kh, kw, cinG, cout] = kernel.shape;
  const coutG = cout / groups;
  const y = new Float32Array(x.n * out[0] * out[1] * cout);
  let o = 0;
  for (let n = 0; n < x.n; n++) {
    for (let oi = 0; oi < out[0]; oi++) {
      for (let oj = 0; oj < out[1]; oj++) {
        for (let co = 0; co < cout; co++) {
          const g = Math.floor(co / coutG);
          let acc = bias ? bias.data[co] : 0;
          for (let a = 0; a < kh; a++) {
            for (let b = 0; b < kw; b++) {
              const i = oi * s[0] - pads.top + a * d[0];
              const j = oj * s[1] - pads.left + b * d[1];
              if (i < 0 || i >= x.h || j < 0 || j >= x.w) continue;
              for (let ci = 0; ci < cinG; ci++) {
                acc += at(x, n, i, j, g * cinG + ci) * kernel.data[((a * kw + b) * cinG + ci) * cout + co];
              }
            }
          }
          y[o++] = acc;
        }
      }
    }
  }
  return y;
}

interface Case {
  spec: ArchitectureSpec;
  seed?: number;
  /** Compare with the tfjs engine too (default). */
  tfjs?: boolean;
  oracle?: (x: Batch, bound: BoundWeight[]) => Float32Array;
  input?: (shape: number[]) => RawTensor;
}

async function check(t: Test, c: Case) {
  const graph = normalizeSpec(c.spec);
  const shaped = inferShapes(graph);
  const bound = randomWeights(shaped, c.seed ?? 1);
  const shape = [2, ...graph.input];
  const x = c.input ? c.input(shape) : randomInput(shape, (c.seed ?? 1) + 100);
  const out = await runOnnx(graph, bound, x);
  t.same(
    out.shape,
    [2, ...shaped.shapes.get(graph.output)!],
    `output shape [2, ${shaped.shapes.get(graph.output)!.join(', ')}] (NHWC)`,
  );
  if (c.oracle) {
    const err = relativeError(out.data, c.oracle(batch(x), bound));
    t.ok(err < TOL, `matches the closed-form oracle (${err.toExponential(2)})`);
  }
  if (c.tfjs !== false) {
    const err = relativeError(out.data, await runTfjs(graph, bound, x));
    t.ok(err < TOL, `matches the tfjs engine (${err.toExponential(2)})`);
  }
  return { graph, out };
}

/** Oracle for a spec made of one pool layer. */
function singlePool(
  mode: 'max' | 'avg',
  input: Shape3,
  k: number,
  s: number,
  padding: Parameters<typeof maxPool>[3],
  extra: { ceilMode?: boolean; countIncludePad?: boolean } = {},
): Case {
  const layer = (mode === 'max' ? maxPool : avgPool)('pool', k, s, padding, extra);
  const spec: ArchitectureSpec = { input, layers: [layer] };
  const node = normalizeSpec(spec).nodes[0];
  if (node.kind !== 'maxpool' && node.kind !== 'avgpool') throw new Error('unexpected');
  const pads = resolvePads(node.attrs.padding, [input[0], input[1]], node.attrs.pool, node.attrs.strides);
  const out: Pair = [
    outputLength(input[0], k, s, 1, pads.top, pads.bottom, node.attrs.ceilMode),
    outputLength(input[1], k, s, 1, pads.left, pads.right, node.attrs.ceilMode),
  ];
  // `same` follows TensorFlow, whose average never counts padding.
  const includePad = node.attrs.padding.mode === 'explicit' && node.attrs.countIncludePad;
  return { spec, oracle: (x) => poolOracle(x, mode, [k, k], [s, s], pads, out, includePad) };
}

t.test('ceil-mode max pooling', async (t) => {
  t.test('3x3/2 on 8x8, no padding: the last window hangs over the edge (torchvision GoogLeNet)', (t) =>
    check(t, singlePool('max', [8, 8, 3], 3, 2, 0, { ceilMode: true })),
  );
  t.test('3x3/2 pad 1 on 7x7', (t) => check(t, singlePool('max', [7, 7, 3], 3, 2, 1, { ceilMode: true })));
  t.test('2x2/2 with bottom/right padding 2 on 4x4: a window starting in the padding is dropped', (t) =>
    check(
      t,
      singlePool(
        'max',
        [4, 4, 2],
        2,
        2,
        [
          [0, 2],
          [0, 2],
        ],
        { ceilMode: true },
      ),
    ),
  );
  t.test('3x3/1 pad 1 (inception branch pool) keeps the size', (t) =>
    check(t, singlePool('max', [6, 6, 4], 3, 1, 1, { ceilMode: true })),
  );
  t.end();
});

t.test('average pooling with explicit padding', async (t) => {
  for (const countIncludePad of [true, false]) {
    for (const ceilMode of [false, true]) {
      t.test(`3x3/2 pad 1 on 8x8, countIncludePad ${countIncludePad}, ceil mode ${ceilMode}`, (t) =>
        check(t, singlePool('avg', [8, 8, 3], 3, 2, 1, { countIncludePad, ceilMode })),
      );
    }
    t.test(`3x3/1 pad 1 on 5x5, countIncludePad ${countIncludePad}`, (t) =>
      check(t, singlePool('avg', [5, 5, 2], 3, 1, 1, { countIncludePad })),
    );
  }
  t.test('2x2/2 with bottom/right padding 2 cannot be built (a window of padding only)', async (t) => {
    const graph = normalizeSpec({
      input: [4, 4, 2],
      layers: [
        avgPool(
          'pool',
          2,
          2,
          [
            [0, 2],
            [0, 2],
          ],
          { ceilMode: true },
        ),
      ],
    });
    t.throws(() => buildOnnxGraph(graph, []), { code: 'UNSUPPORTED_BY_ENGINE', statusCode: 422 });
  });
  t.end();
});

t.test('`same` pooling, stride 2 on an even input (TensorFlow pads bottom/right only)', async (t) => {
  t.test('max 3x3/2 on 8x8', (t) => check(t, singlePool('max', [8, 8, 3], 3, 2, 'same')));
  t.test('avg 3x3/2 on 8x8 (padding never counted)', (t) =>
    check(t, singlePool('avg', [8, 8, 3], 3, 2, 'same')),
  );
  t.test('avg 3x3/1 on 5x5 (Inception branch pool)', (t) =>
    check(t, singlePool('avg', [5, 5, 3], 3, 1, 'same')),
  );
  t.end();
});

/** Oracle for a spec made of one conv layer. */
function singleConv(input: Shape3, filters: number, k: number, options: Parameters<typeof conv>[3]): Case {
  const spec: ArchitectureSpec = { input, layers: [conv('conv', filters, k, options)] };
  const node = normalizeSpec(spec).nodes[0];
  if (node.kind !== 'conv2d') throw new Error('unexpected');
  const a = node.attrs;
  const pads = resolvePads(a.padding, [input[0], input[1]], a.kernel, a.strides, a.dilation);
  const out: Pair = [
    outputLength(input[0], k, a.strides[0], a.dilation[0], pads.top, pads.bottom),
    outputLength(input[1], k, a.strides[1], a.dilation[1], pads.left, pads.right),
  ];
  return {
    spec,
    oracle: (x, bound) =>
      convOracle(
        x,
        bound.find((w) => w.weight === 'kernel')!,
        bound.find((w) => w.weight === 'bias'),
        a.strides,
        a.dilation,
        pads,
        a.groups,
        out,
      ),
  };
}

t.test('convolution padding, dilation and groups', async (t) => {
  t.test('3x3/2 `same` on 8x8: TensorFlow puts the one pad pixel at the bottom/right', (t) =>
    check(t, singleConv([8, 8, 3], 4, 3, { strides: 2, padding: 'same' })),
  );
  t.test('4x4/2 `same` on 8x8: pads 1 on each side', (t) =>
    check(t, singleConv([8, 8, 3], 4, 4, { strides: 2, padding: 'same' })),
  );
  t.test('3x3/2 `same` on 7x7 (odd: symmetric)', (t) =>
    check(t, singleConv([7, 7, 3], 4, 3, { strides: 2, padding: 'same' })),
  );
  t.test('3x3 dilation 2, `same`', (t) =>
    check(t, singleConv([9, 9, 3], 4, 3, { dilation: 2, padding: 'same' })),
  );
  t.test('3x3 dilation 2, explicit padding 2, no bias', (t) =>
    check(t, singleConv([9, 9, 3], 4, 3, { dilation: 2, padding: 2, bias: false })),
  );
  t.test('asymmetric explicit padding [[0, 2], [1, 0]]', (t) =>
    check(
      t,
      singleConv([6, 6, 2], 3, 3, {
        padding: [
          [0, 2],
          [1, 0],
        ],
      }),
    ),
  );
  t.test('grouped 3x3, 4 groups', (t) => check(t, singleConv([6, 6, 8], 12, 3, { padding: 1, groups: 4 })));
  t.test('depthwise 3x3 (groups = channels), multiplier 2, stride 2 `same`', (t) =>
    check(t, singleConv([7, 8, 4], 8, 3, { strides: 2, padding: 'same', groups: 4 })),
  );
  t.test('depthwise 3x3 with asymmetric explicit padding [[0, 1], [1, 2]]', (t) =>
    check(
      t,
      singleConv([6, 6, 3], 3, 3, {
        padding: [
          [0, 1],
          [1, 2],
        ],
        groups: 3,
      }),
    ),
  );
  t.test('depthwise 5x5 dilation 2, padding 4, no bias', (t) =>
    check(t, singleConv([9, 9, 2], 2, 5, { dilation: 2, padding: 4, groups: 2, bias: false })),
  );
  t.end();
});

t.test('flatten follows Keras (H, W, C order)', async (t) => {
  t.test('flatten alone returns the NHWC input unchanged', async (t) => {
    await check(t, { spec: { input: [2, 3, 4], layers: [flatten('flat')] }, oracle: (x) => x.data });
  });
  t.test('conv → flatten → dense', (t) =>
    check(t, { spec: { input: [5, 4, 3], layers: [conv('conv', 6, 3), flatten('flat'), dense('fc', 7)] } }),
  );
  t.end();
});

t.test('scaled residual add: x + scale·body(x)', async (t) => {
  const spec: ArchitectureSpec = {
    input: [4, 4, 3],
    layers: [residual('block', { body: [conv('body', 3, 1, { bias: false })], scale: 0.17 })],
  };
  await check(t, {
    spec,
    oracle: (x, bound) => {
      const body = convOracle(
        x,
        bound[0],
        undefined,
        [1, 1],
        [1, 1],
        { top: 0, bottom: 0, left: 0, right: 0 },
        1,
        [4, 4],
      );
      return x.data.map((v, i) => v + 0.17 * body[i]);
    },
  });
});

t.test('a zero pad before a max pool survives ONNX Runtime’s Pad fusion', async (t) => {
  // All inputs negative: every border window must see the pad's zeros. ONNX Runtime's PadFusion
  // would move the pad into MaxPool's pads (−∞) and return the negative window maxima instead.
  const { out } = await check(t, {
    spec: { input: [6, 6, 2], layers: [zeroPad('pad', 1), maxPool('pool', 3, 2)] },
    input: (shape) => {
      const x = randomInput(shape, 5);
      return { shape, data: x.data.map((v) => -1 - Math.abs(v)) };
    },
    oracle: (x) => {
      const padded = { ...x, h: 8, w: 8, data: new Float32Array(x.n * 8 * 8 * x.c) };
      for (let n = 0; n < x.n; n++)
        for (let i = 0; i < 6; i++)
          for (let j = 0; j < 6; j++)
            for (let c = 0; c < x.c; c++) {
              padded.data[((n * 8 + i + 1) * 8 + j + 1) * x.c + c] = at(x, n, i, j, c);
            }
      return poolOracle(
        padded,
        'max',
        [3, 3],
        [2, 2],
        { top: 0, bottom: 0, left: 0, right: 0 },
        [3, 3],
        false,
      );
    },
  });
  // Output 3x3 per channel; windows start at padded rows/cols 0, 2, 4, so only the first row and
  // column of windows reach the zero border (the last window stops short of it).
  const touchesBorder = (idx: number) => Math.floor(idx / 2) % 3 === 0 || Math.floor(idx / 6) % 3 === 0;
  t.ok(
    out.data.every((v, i) => (touchesBorder(i) ? v === 0 : v < 0)),
    'windows on the border give 0, the others their negative maximum',
  );
  t.test('also with the pool’s own padding after the zero pad', (t) =>
    check(t, {
      spec: { input: [6, 6, 2], layers: [zeroPad('pad', 1), maxPool('pool', 3, 2, 1)] },
      input: (s) => ({ shape: s, data: randomInput(s, 6).data.map((v) => v - 2) }),
    }),
  );
  t.test('and before an average pool', (t) =>
    check(t, {
      spec: {
        input: [6, 6, 2],
        layers: [
          zeroPad('pad', [
            [1, 0],
            [0, 1],
          ]),
          avgPool('pool', 3, 2, 'same'),
        ],
      },
    }),
  );
});

t.test('activations, heads and outputs', async (t) => {
  t.test('relu6, sigmoid, tanh on feature maps; softmax over channels at a feature-map output', (t) =>
    check(t, {
      spec: {
        input: [5, 5, 3],
        layers: [
          branches('acts', [
            { name: 'a', layers: [conv('c1', 4, 3, { padding: 'same' }), act('relu6', 'relu6')] },
            { name: 'b', layers: [conv('c2', 4, 3, { padding: 'same' }), act('sigmoid', 'sigmoid')] },
            { name: 'c', layers: [conv('c3', 4, 3, { padding: 'same' }), act('tanh', 'tanh')] },
          ]),
          conv('mix', 5, 1),
          act('softmax', 'softmax'),
        ],
      },
    }),
  );
  t.test(
    'global max pooling, dropout (inference), batch norm on a flat tensor, linear and softmax dense',
    (t) =>
      check(t, {
        spec: {
          input: [6, 6, 3],
          layers: [
            conv('c', 8, 3),
            bn('bn1'),
            act('r', 'relu'),
            globalMaxPool('gmp'),
            dropout('drop', 0.5),
            dense('fc1', 6),
            bn('bn2'),
            act('lin', 'linear'),
            dense('fc2', 4, 'softmax'),
          ],
        },
      }),
  );
  t.test('a feature-map output comes back as NHWC', (t) =>
    check(t, singleConv([6, 5, 3], 4, 3, { strides: [2, 1], padding: 'same' })),
  );
  t.end();
});

t.test('the model input is NHWC with a symbolic batch; one Transpose to NCHW at the start', async (t) => {
  const graph = normalizeSpec({ input: [6, 6, 3], layers: [conv('c', 4, 3), flatten('f')] });
  const model = buildOnnxGraph(graph, randomWeights(inferShapes(graph), 1));
  t.same(model.graph.inputs, [{ name: 'input', elemType: 1, dims: ['batch', 6, 6, 3] }]);
  t.same(model.graph.outputs, [{ name: 'output', elemType: 1, dims: ['batch', 64] }]);
  t.same(model.graph.nodes[0].op, 'Transpose');
  t.same(model.graph.nodes[0].attributes, [{ name: 'perm', type: 'ints', value: [0, 3, 1, 2] }]);
  t.same(
    model.graph.nodes.map((n) => n.op),
    ['Transpose', 'Conv', 'Transpose', 'Flatten', 'Identity'],
  );
});
