// Numeric semantics of the kinds and activation functions MobileNet- and EfficientNet-class models
// need, on both engines: each small network runs on ONNX Runtime and on the tfjs executor (plain,
// and with its rewrites) and is checked against a closed-form oracle written here in plain loops.
// Tolerance: 1e-5 relative to the largest |output| (erf below is accurate to 1.2e-7).
import t, { type Test } from 'tap';
import { act, branches, conv, dense, flatten, globalAvgPool, globalMaxPool } from '../../models/layers.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { inferShapes } from '../../src/spec/shapes.js';
import type { ArchitectureSpec, NodeSpec } from '../../src/spec/types.js';
import type { BoundWeight } from '../../src/weights/bind.js';
import type { RawTensor } from '../../src/weights/types.js';
import { backendReady } from '../helpers/engine.js';
import { relativeError, runOnnx, runTfjs } from '../helpers/onnx.js';
import { randomInput, randomWeights } from '../../bench/lib/random.js';

const TOL = 1e-5;

t.before(async () => {
  await backendReady();
});

/** erf by Numerical Recipes' erfc Chebyshev fit (fractional error < 1.2e-7). */
function erf(x: number): number {
  const z = Math.abs(x);
  const u = 1 / (1 + 0.5 * z);
  const erfc =
    u *
    Math.exp(
      -z * z -
        1.26551223 +
        u *
          (1.00002368 +
            u *
              (0.37409196 +
                u *
                  (0.09678418 +
                    u *
                      (-0.18628806 +
                        u *
                          (0.27886807 +
                            u * (-1.13520398 + u * (1.48851587 + u * (-0.82215223 + u * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - erfc : erfc - 1;
}

const relu6 = (x: number) => Math.min(Math.max(x, 0), 6);

/** Every function, with the parameters the case sets, as plain arithmetic. */
const FUNCTIONS: [string, Record<string, unknown>, (x: number) => number][] = [
  ['silu', {}, (x) => x / (1 + Math.exp(-x))],
  ['swish', {}, (x) => x / (1 + Math.exp(-x))],
  ['hard_sigmoid', {}, (x) => relu6(x + 3) / 6],
  ['hard_sigmoid', { alpha: 0.2, beta: 0.5 }, (x) => Math.min(Math.max(0.2 * x + 0.5, 0), 1)],
  ['hard_swish', {}, (x) => (x * relu6(x + 3)) / 6],
  ['gelu', {}, (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
  [
    'gelu',
    { approximate: true },
    (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  ],
  ['leaky_relu', {}, (x) => (x >= 0 ? x : 0.01 * x)],
  ['leaky_relu', { alpha: 0.3 }, (x) => (x >= 0 ? x : 0.3 * x)],
  ['elu', {}, (x) => (x > 0 ? x : Math.exp(x) - 1)],
  ['elu', { alpha: 0.5 }, (x) => (x > 0 ? x : 0.5 * (Math.exp(x) - 1))],
  ['clip', { min: -1, max: 2.5 }, (x) => Math.min(Math.max(x, -1), 2.5)],
];

interface Case {
  spec: ArchitectureSpec;
  /** Input values scaled from U(−1, 1). */
  scale?: number;
  oracle?: (x: RawTensor, bound: BoundWeight[]) => Float32Array;
}

async function check(t: Test, c: Case) {
  const graph = normalizeSpec(c.spec);
  const shaped = inferShapes(graph);
  const bound = randomWeights(shaped, 3);
  const shape = [2, ...graph.input];
  const raw = randomInput(shape, 4);
  const x = { shape, data: raw.data.map((v) => v * (c.scale ?? 1)) };
  const outShape = [2, ...shaped.shapes.get(graph.output)!];
  const reference = c.oracle ? c.oracle(x, bound) : await runTfjs(graph, bound, x);
  t.equal(
    reference.length,
    outShape.reduce((a, b) => a * b, 1),
    `the oracle gives ${outShape.join('x')} values`,
  );
  const onnx = await runOnnx(graph, bound, x);
  t.same(onnx.shape, outShape, `ONNX output shape [${outShape.join(', ')}]`);
  t.ok(
    relativeError(onnx.data, reference) < TOL,
    `ONNX Runtime (${relativeError(onnx.data, reference).toExponential(2)})`,
  );
  for (const options of [{ foldBatchNorm: false, fuseActivations: false }, {}]) {
    const err = relativeError(await runTfjs(graph, bound, x, false, options), reference);
    t.ok(err < TOL, `tfjs ${JSON.stringify(options)} (${err.toExponential(2)})`);
  }
}

t.test('activation functions, element by element', async (t) => {
  for (const [fn, params, f] of FUNCTIONS) {
    t.test(`${fn} ${JSON.stringify(params)}`, (t) =>
      check(t, {
        spec: {
          input: [4, 5, 3],
          layers: [{ kind: 'activation', name: 'a', function: fn, ...params } as NodeSpec],
        },
        scale: 5,
        oracle: (x) => x.data.map(f),
      }),
    );
  }
  t.end();
});

t.test('activations after a conv (where tfjs fuses relu/relu6/sigmoid) and inside dense', async (t) => {
  for (const fn of ['relu6', 'hard_swish', 'silu', 'gelu', 'elu']) {
    t.test(`conv → ${fn}, dense with ${fn}`, (t) =>
      check(t, {
        spec: {
          input: [6, 6, 3],
          layers: [
            conv('c', 4, 3, { padding: 'same' }),
            act('a', fn as never),
            flatten('f'),
            { kind: 'dense', name: 'd', units: 5, activation: fn },
          ],
        },
      }),
    );
  }
  t.end();
});

/** Per-image NHWC index. */
const idx = (h: number, w: number, c: number, n: number, i: number, j: number, k: number) =>
  ((n * h + i) * w + j) * c + k;

t.test('global pooling with keepdims gives [1, 1, C]', async (t) => {
  const [h, w, c] = [5, 4, 3];
  const mean = (x: RawTensor) => {
    const y = new Float32Array(2 * c);
    for (let n = 0; n < 2; n++)
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) s += x.data[idx(h, w, c, n, i, j, k)];
        y[n * c + k] = s / (h * w);
      }
    return y;
  };
  await check(t, { spec: { input: [h, w, c], layers: [globalAvgPool('g', true)] }, oracle: mean });
  t.test('max, then a 1x1 conv on the 1x1 map', (t) =>
    check(t, {
      spec: {
        input: [h, w, c],
        layers: [globalMaxPool('g'), { kind: 'reshape', name: 'r', shape: [1, 1, -1] }, conv('c', 4, 1)],
      },
    }),
  );
});

t.test('multiply: a squeeze-and-excitation block scales each channel of its input', async (t) => {
  const [h, w, c] = [4, 4, 6];
  const spec: ArchitectureSpec = {
    input: [h, w, c],
    layers: [
      branches(
        'se',
        [
          { name: 'se_x', layers: [] },
          {
            name: 'se_s',
            layers: [
              globalAvgPool('se_pool', true),
              conv('se_fc1', 2, 1),
              act('se_relu', 'relu'),
              conv('se_fc2', c, 1),
              act('se_gate', 'hard_sigmoid'),
            ],
          },
        ],
        'multiply',
      ),
    ],
  };
  await check(t, {
    spec,
    oracle: (x, bound) => {
      const wt = (layer: string, name: string) =>
        bound.find((b) => b.layer === layer && b.weight === name)!.data;
      const y = new Float32Array(x.data.length);
      for (let n = 0; n < 2; n++) {
        const pooled = Array.from({ length: c }, (_, k) => {
          let s = 0;
          for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) s += x.data[idx(h, w, c, n, i, j, k)];
          return s / (h * w);
        });
        const hidden = Array.from({ length: 2 }, (_, o) =>
          Math.max(
            0,
            pooled.reduce((s, v, k) => s + v * wt('se_fc1', 'kernel')[k * 2 + o], wt('se_fc1', 'bias')[o]),
          ),
        );
        const gate = Array.from(
          { length: c },
          (_, o) =>
            relu6(
              hidden.reduce((s, v, k) => s + v * wt('se_fc2', 'kernel')[k * c + o], wt('se_fc2', 'bias')[o]) +
                3,
            ) / 6,
        );
        for (let i = 0; i < h; i++)
          for (let j = 0; j < w; j++)
            for (let k = 0; k < c; k++)
              y[idx(h, w, c, n, i, j, k)] = x.data[idx(h, w, c, n, i, j, k)] * gate[k];
      }
      return y;
    },
  });
  t.test('and an add merge', (t) =>
    check(t, {
      spec: {
        input: [4, 4, 3],
        layers: [
          branches(
            'sum',
            [
              { name: 'a', layers: [] },
              { name: 'b', layers: [conv('c', 3, 1)] },
            ],
            'add',
          ),
        ],
      },
    }),
  );
});

t.test('reshape keeps the row-major H, W, C order on both engines', async (t) => {
  t.test('[4, 4, 3] → [48] is the NHWC data unchanged', (t) =>
    check(t, {
      spec: { input: [4, 4, 3], layers: [{ kind: 'reshape', name: 'r', shape: [48] }] },
      oracle: (x) => x.data,
    }),
  );
  t.test('[4, 4, 3] → [2, 2, 12] is the NHWC data unchanged', (t) =>
    check(t, {
      spec: { input: [4, 4, 3], layers: [{ kind: 'reshape', name: 'r', shape: [2, 2, -1] }] },
      oracle: (x) => x.data,
    }),
  );
  t.test('→ [2, 8, 3], then a conv reads the new map', (t) =>
    check(t, {
      spec: {
        input: [4, 4, 3],
        layers: [{ kind: 'reshape', name: 'r', shape: [2, 8, 3] }, conv('c', 4, [1, 3])],
      },
    }),
  );
});

t.test('rescaling and normalization, per channel and scalar', async (t) => {
  const [h, w, c] = [3, 4, 3];
  const perChannel = (f: (v: number, k: number) => number) => (x: RawTensor) =>
    x.data.map((v, i) => f(v, i % c));
  t.test('rescaling 1/127.5, offset −1', (t) =>
    check(t, {
      spec: { input: [h, w, c], layers: [{ kind: 'rescaling', name: 'r', scale: 1 / 127.5, offset: -1 }] },
      scale: 255,
      oracle: perChannel((v) => v / 127.5 - 1),
    }),
  );
  const scale = [0.5, 2, -1];
  const offset = [0.1, 0, 3];
  t.test('rescaling per channel', (t) =>
    check(t, {
      spec: { input: [h, w, c], layers: [{ kind: 'rescaling', name: 'r', scale, offset }] },
      oracle: perChannel((v, k) => v * scale[k] + offset[k]),
    }),
  );
  const mean = [0.485, 0.456, 0.406];
  const variance = [0.052, 0.05, 0];
  t.test('normalization with constants (a zero variance divides by ε = 1e-7... of the square root)', (t) =>
    check(t, {
      spec: { input: [h, w, c], layers: [{ kind: 'normalization', name: 'n', mean, variance }] },
      scale: 1e-6,
      oracle: perChannel((v, k) => (v - mean[k]) / Math.max(Math.sqrt(variance[k]), 1e-7)),
    }),
  );
  t.test('normalization with mean and variance as weights', (t) =>
    check(t, {
      spec: { input: [h, w, c], layers: [{ kind: 'normalization', name: 'n' }] },
      oracle: (x, bound) => {
        const m = bound.find((b) => b.weight === 'mean')!.data;
        const v = bound.find((b) => b.weight === 'variance')!.data;
        return perChannel((value, k) => (value - m[k]) / Math.max(Math.sqrt(v[k]), 1e-7))(x);
      },
    }),
  );
});

t.test('dense after global pooling keeps its vector layout after a reshape to [C]', (t) =>
  check(t, {
    spec: {
      input: [3, 3, 4],
      layers: [globalAvgPool('g', true), { kind: 'reshape', name: 'r', shape: [4] }, dense('d', 3)],
    },
  }),
);
