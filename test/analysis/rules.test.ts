// Closed-form oracles for the per-kind rules. Every expectation below is computed here, from the
// published formulas (PyTorch's Conv2d/MaxPool2d output-size formulas, TensorFlow's SAME padding,
// the Keras parameter layout), never copied from our own output. Sweeps collect mismatches and
// report the first few, so one broken formula gives one readable failure instead of thousands.
import t from 'tap';
import fc from 'fast-check';
import { analyzeGraph, type AnalysisReport, type LayerRow } from '../../src/analysis/analyze.js';
import { resolvePads } from '../../src/spec/geometry.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { SpecError } from '../../src/errors.js';
import type { NodeSpec, PaddingInput, Shape3 } from '../../src/spec/types.js';

const analyze = (input: Shape3, layers: NodeSpec[], batch = 1): AnalysisReport =>
  analyzeGraph(normalizeSpec({ input, layers }), { batch });

/** Runs a one-layer (or few-layer) spec; returns the report or the SpecError it threw. */
function attempt(input: Shape3, layers: NodeSpec[]): AnalysisReport | SpecError {
  try {
    return analyze(input, layers);
  } catch (err) {
    if (err instanceof SpecError) return err;
    throw err;
  }
}

const row = (r: AnalysisReport, name: string): LayerRow => {
  const found = r.layers.find((l) => l.name === name);
  if (!found) throw new Error(`no row ${name} in ${r.layers.map((l) => l.name).join(', ')}`);
  return found;
};

/** Reports the first few mismatches of a sweep, plus how many there were. */
function verdict(t: Pick<typeof import('tap').t, 'same' | 'equal'>, mismatches: string[], label: string) {
  t.same(mismatches.slice(0, 8), [], `${label}: first mismatches`);
  t.equal(mismatches.length, 0, `${label}: no mismatches`);
}

// ---------------------------------------------------------------------------------------------
// Independent formulas
// ---------------------------------------------------------------------------------------------

/** PyTorch Conv2d: floor((in + pt + pb − d·(k − 1) − 1) / s) + 1; < 1 means the kernel does not fit. */
const torchOut = (n: number, k: number, s: number, d: number, pt: number, pb: number) =>
  Math.floor((n + pt + pb - d * (k - 1) - 1) / s) + 1;

/**
 * TensorFlow's SAME rule (tf.nn docs, "padding"): out = ceil(in / s);
 * pad_along = max((out − 1)·s + k_eff − in, 0); pad_before = pad_along // 2; the rest goes after.
 */
function tfSame(n: number, k: number, s: number, d: number): { out: number; before: number; after: number } {
  const out = Math.ceil(n / s);
  const keff = d * (k - 1) + 1;
  const along = Math.max((out - 1) * s + keff - n, 0);
  const before = Math.floor(along / 2);
  return { out, before, after: along - before };
}

/** Padding as written → [top, bottom, left, right], for the explicit and valid forms. */
function explicitPads(p: PaddingInput): [number, number, number, number] {
  if (p === 'valid') return [0, 0, 0, 0];
  if (p === 'same') throw new Error('same is size-dependent');
  if (typeof p === 'number') return [p, p, p, p];
  if (typeof p[0] === 'number') {
    const [ph, pw] = p as [number, number];
    return [ph, ph, pw, pw];
  }
  const [[top, bottom], [left, right]] = p as [[number, number], [number, number]];
  return [top, bottom, left, right];
}

/**
 * PyTorch pooling by enumeration rather than formula: window i starts at i·s in padded
 * coordinates. Floor mode keeps the windows that fit inside the padded input. Ceil mode also keeps
 * one window that hangs over the end, provided the window before it fit without reaching the end;
 * and, as PyTorch does in ceil mode, drops a window that would start in the trailing padding (a
 * window is kept only if it starts inside the input or the leading padding). PyTorch only accepts
 * padding up to half the window, so callers stay within that for ceil mode.
 */
function bruteWindows(n: number, k: number, s: number, before: number, after: number, ceil: boolean): number {
  const padded = n + before + after;
  let count = 0;
  let previousFitShort = false;
  for (let start = 0; start < padded; start += s) {
    const fits = start + k <= padded;
    const keep = fits || (ceil && previousFitShort);
    if (!keep) break;
    if (ceil && start >= n + before) break;
    count++;
    previousFitShort = fits && start + k < padded;
    if (!fits) break;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// conv2d
// ---------------------------------------------------------------------------------------------

const CONV_PADDINGS: PaddingInput[] = [
  'valid',
  'same',
  0,
  1,
  3,
  [2, 1],
  [
    [0, 1],
    [2, 0],
  ],
  [
    [3, 1],
    [0, 2],
  ],
];
/** [Cin, groups, filters]: dense, grouped by 2 and 4, and depthwise (groups = Cin, multiplier 2). */
const GROUPINGS: [number, number, number][] = [
  [8, 1, 12],
  [8, 2, 6],
  [12, 4, 8],
  [6, 6, 12],
];
const SIZES = [7, 8, 12, 15, 16, 23, 32, 33];

t.test(
  'conv2d: shape, params and MACs match the closed forms over kernel, stride, dilation, padding, groups and size',
  async (t) => {
    const mismatches: string[] = [];
    let counted = 0;
    let refused = 0;
    let i = 0;
    for (const padding of CONV_PADDINGS) {
      for (const [cin, groups, filters] of GROUPINGS) {
        for (let si = 0; si < SIZES.length; si++) {
          // H and W differ (odd/even mixed), so a swapped axis cannot pass.
          const h = SIZES[si];
          const w = SIZES[(si + 3) % SIZES.length];
          for (let k = 1; k <= 7; k++) {
            for (let s = 1; s <= 3; s++) {
              for (let d = 1; d <= 3; d++) {
                const bias = i++ % 2 === 0;
                const label = `in ${h}x${w}x${cin} k${k} s${s} d${d} pad ${JSON.stringify(padding)} g${groups} f${filters} bias ${bias}`;
                let ho: number;
                let wo: number;
                if (padding === 'same') {
                  ho = tfSame(h, k, s, d).out;
                  wo = tfSame(w, k, s, d).out;
                } else {
                  const [pt, pb, pl, pr] = explicitPads(padding);
                  ho = torchOut(h, k, s, d, pt, pb);
                  wo = torchOut(w, k, s, d, pl, pr);
                }
                const result = attempt(
                  [h, w, cin],
                  [
                    {
                      kind: 'conv2d',
                      name: 'c',
                      filters,
                      kernel: k,
                      strides: s,
                      dilation: d,
                      padding,
                      groups,
                      bias,
                    },
                  ],
                );
                if (ho < 1 || wo < 1) {
                  refused++;
                  if (
                    !(result instanceof SpecError) ||
                    result.code !== 'SHAPE_MISMATCH' ||
                    !result.message.startsWith('layers[0] (c)')
                  ) {
                    mismatches.push(
                      `${label}: expected a SHAPE_MISMATCH naming layers[0] (c), got ${result instanceof SpecError ? result.message : 'a report'}`,
                    );
                  }
                  continue;
                }
                counted++;
                if (result instanceof SpecError) {
                  mismatches.push(`${label}: unexpected error ${result.message}`);
                  continue;
                }
                const r = row(result, 'c');
                const perGroup = cin / groups;
                const params = k * k * perGroup * filters + (bias ? filters : 0);
                const macs = ho * wo * filters * perGroup * k * k;
                const got = {
                  shape: r.outputShape,
                  params: r.params,
                  trainable: r.trainableParams,
                  macs: r.macs,
                  elementOps: r.elementOps,
                };
                const want = {
                  shape: [ho, wo, filters],
                  params,
                  trainable: params,
                  macs,
                  elementOps: bias ? ho * wo * filters : 0,
                };
                if (JSON.stringify(got) !== JSON.stringify(want))
                  mismatches.push(`${label}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
                const kernelShape = r.weights.find((x) => x.name === 'kernel')?.shape;
                if (JSON.stringify(kernelShape) !== JSON.stringify([k, k, perGroup, filters])) {
                  mismatches.push(
                    `${label}: kernel weight ${JSON.stringify(kernelShape)}, want [kh, kw, Cin/groups, Cout]`,
                  );
                }
              }
            }
          }
        }
      }
    }
    verdict(t, mismatches, 'conv2d sweep');
    // The sweep must exercise both outcomes, or it proves little.
    t.ok(counted > 10_000, `counted cases: ${counted}`);
    t.ok(refused > 100, `refused cases (kernel larger than the padded input): ${refused}`);
  },
);

t.test("'same' padding follows TensorFlow: output ceil(in/s), extra pixel at the bottom/right", async (t) => {
  const mismatches: string[] = [];
  let odd = 0;
  for (let n = 1; n <= 40; n++) {
    for (let k = 1; k <= 7; k++) {
      for (let s = 1; s <= 3; s++) {
        for (let d = 1; d <= 3; d++) {
          const m = n + 5; // a different width, so the axes are checked apart
          const a = tfSame(n, k, s, d);
          const b = tfSame(m, k, s, d);
          const pads = resolvePads({ mode: 'same' }, [n, m], [k, k], [s, s], [d, d]);
          const want = { top: a.before, bottom: a.after, left: b.before, right: b.after };
          if (JSON.stringify(pads) !== JSON.stringify(want))
            mismatches.push(
              `n ${n}/${m} k${k} s${s} d${d}: ${JSON.stringify(pads)} want ${JSON.stringify(want)}`,
            );
          if (pads.bottom - pads.top !== 0 && pads.bottom - pads.top !== 1)
            mismatches.push(`n ${n} k${k} s${s} d${d}: bottom − top = ${pads.bottom - pads.top}`);
          if (pads.bottom > pads.top) odd++;
          // And the padded floor formula lands exactly on ceil(in/s).
          if (torchOut(n, k, s, d, pads.top, pads.bottom) !== Math.ceil(n / s))
            mismatches.push(`n ${n} k${k} s${s} d${d}: padded size misses ceil(in/s)`);
        }
      }
    }
  }
  verdict(t, mismatches, 'same padding');
  t.ok(odd > 100, `odd totals (extra pixel after) exercised: ${odd}`);
  // One case by hand: 5 wide, k 4, s 1 → pad 3 in total: 1 before, 2 after.
  t.same(resolvePads({ mode: 'same' }, [5, 5], [4, 4], [1, 1]), { top: 1, bottom: 2, left: 1, right: 2 });
  // Stride larger than the kernel needs no padding: 8 wide, k1 s3 → ceil(8/3) = 3, (3−1)·3 + 1 = 7 ≤ 8.
  t.same(resolvePads({ mode: 'same' }, [8, 8], [1, 1], [3, 3]), { top: 0, bottom: 0, left: 0, right: 0 });
});

t.test(
  'conv2d with non-square kernels, strides, dilations and asymmetric padding matches the per-axis formula',
  async (t) => {
    const side = fc.integer({ min: 1, max: 7 });
    const small = fc.integer({ min: 1, max: 3 });
    const pad = fc.integer({ min: 0, max: 4 });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        side,
        side,
        small,
        small,
        small,
        small,
        pad,
        pad,
        pad,
        pad,
        fc.constantFrom<[number, number, number]>([4, 1, 6], [4, 2, 4], [6, 3, 9], [5, 5, 5]),
        (h, w, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, [cin, groups, filters]) => {
          const ho = torchOut(h, kh, sh, dh, pt, pb);
          const wo = torchOut(w, kw, sw, dw, pl, pr);
          const result = attempt(
            [h, w, cin],
            [
              {
                kind: 'conv2d',
                name: 'c',
                filters,
                groups,
                bias: false,
                kernel: [kh, kw],
                strides: [sh, sw],
                dilation: [dh, dw],
                padding: [
                  [pt, pb],
                  [pl, pr],
                ],
              },
            ],
          );
          if (ho < 1 || wo < 1) return result instanceof SpecError && result.code === 'SHAPE_MISMATCH';
          if (result instanceof SpecError) return false;
          const r = row(result, 'c');
          return (
            JSON.stringify(r.outputShape) === JSON.stringify([ho, wo, filters]) &&
            r.params === kh * kw * (cin / groups) * filters &&
            r.macs === ho * wo * filters * (cin / groups) * kh * kw
          );
        },
      ),
      { numRuns: 1500 },
    );
    t.pass('1500 random per-axis cases agree');
  },
);

t.test('conv2d groups must divide both channel counts', async (t) => {
  const notInput = attempt([8, 8, 6], [{ kind: 'conv2d', name: 'c', filters: 8, kernel: 1, groups: 4 }]);
  t.ok(
    notInput instanceof SpecError && notInput.code === 'SHAPE_MISMATCH',
    '6 input channels cannot split into 4 groups',
  );
  t.match((notInput as SpecError).message, /layers\[0\] \(c\).*divisible by groups \(4\)/);
  const notFilters = attempt([8, 8, 8], [{ kind: 'conv2d', name: 'c', filters: 6, kernel: 1, groups: 4 }]);
  t.ok(notFilters instanceof SpecError, '6 filters cannot split into 4 groups');
  t.equal((notFilters as SpecError).detail.field, 'layers[0].groups');
});

// ---------------------------------------------------------------------------------------------
// pooling
// ---------------------------------------------------------------------------------------------

t.test(
  'max and avg pooling match a window-by-window simulation of PyTorch, in floor and ceil mode',
  async (t) => {
    const paddings: PaddingInput[] = [
      'valid',
      0,
      1,
      2,
      [1, 0],
      [
        [0, 1],
        [1, 0],
      ],
      [
        [2, 0],
        [0, 2],
      ],
    ];
    const mismatches: string[] = [];
    let ceilDiffers = 0;
    let refused = 0;
    let counted = 0;
    for (const kind of ['maxpool', 'avgpool'] as const) {
      for (const padding of paddings) {
        const [pt, pb, pl, pr] = explicitPads(padding);
        for (const ceilMode of [false, true]) {
          for (let p = 1; p <= 5; p++) {
            // PyTorch refuses padding over half the window; its ceil-mode rule is only defined within that.
            if (ceilMode && Math.max(pt, pb, pl, pr) > Math.floor(p / 2)) continue;
            for (let s = 1; s <= 3; s++) {
              for (let h = 1; h <= 20; h++) {
                const w = ((h * 7) % 20) + 1;
                const label = `${kind} ${h}x${w} pool ${p} s${s} pad ${JSON.stringify(padding)} ceil ${ceilMode}`;
                const ho = bruteWindows(h, p, s, pt, pb, ceilMode);
                const wo = bruteWindows(w, p, s, pl, pr, ceilMode);
                if (
                  ceilMode &&
                  (ho !== bruteWindows(h, p, s, pt, pb, false) || wo !== bruteWindows(w, p, s, pl, pr, false))
                )
                  ceilDiffers++;
                const result = attempt(
                  [h, w, 3],
                  [{ kind, name: 'p', pool: p, strides: s, padding, ceilMode }],
                );
                if (ho < 1 || wo < 1) {
                  refused++;
                  if (!(result instanceof SpecError) || result.code !== 'SHAPE_MISMATCH')
                    mismatches.push(`${label}: expected a SHAPE_MISMATCH`);
                  continue;
                }
                counted++;
                if (result instanceof SpecError) {
                  mismatches.push(`${label}: unexpected error ${result.message}`);
                  continue;
                }
                const r = row(result, 'p');
                const got = [r.outputShape, r.params, r.macs, r.elementOps];
                const want = [[ho, wo, 3], 0, 0, ho * wo * 3 * p * p];
                if (JSON.stringify(got) !== JSON.stringify(want))
                  mismatches.push(`${label}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
              }
            }
          }
        }
      }
    }
    verdict(t, mismatches, 'pool sweep');
    t.ok(ceilDiffers > 200, `ceil mode changes the size in ${ceilDiffers} cases`);
    t.ok(refused > 20 && counted > 3000, `counted ${counted}, refused ${refused}`);
  },
);

t.test('pooling by hand: torchvision stem and the trailing-padding rule', async (t) => {
  // torchvision ResNet stem: 112 → maxpool 3, s2, pad 1 → 56.
  t.same(
    row(analyze([112, 112, 64], [{ kind: 'maxpool', name: 'p', pool: 3, strides: 2, padding: 1 }]), 'p')
      .outputShape,
    [56, 56, 64],
  );
  // GoogLeNet: 112 → maxpool 3, s2, ceil → ceil((112 − 3)/2) + 1 = 56 (floor would give 55).
  t.same(
    row(analyze([112, 112, 64], [{ kind: 'maxpool', name: 'p', pool: 3, strides: 2, ceilMode: true }]), 'p')
      .outputShape,
    [56, 56, 64],
  );
  t.same(
    row(analyze([112, 112, 64], [{ kind: 'maxpool', name: 'p', pool: 3, strides: 2 }]), 'p').outputShape,
    [55, 55, 64],
  );
  // 5 wide, pool 2, s2, pad 1 each side, ceil: padded 7 → ceil(5/2) + 1 = 4 windows by formula, but the
  // 4th would start at 6 = in + pad_before, inside the trailing padding, so PyTorch drops it: 3.
  t.same(
    row(
      analyze([5, 5, 1], [{ kind: 'maxpool', name: 'p', pool: 2, strides: 2, padding: 1, ceilMode: true }]),
      'p',
    ).outputShape,
    [3, 3, 1],
  );
  // 'same' pooling: ceil(in/s), and ceil mode with 'same' is refused.
  t.same(
    row(analyze([15, 16, 2], [{ kind: 'avgpool', name: 'p', pool: 3, strides: 2, padding: 'same' }]), 'p')
      .outputShape,
    [8, 8, 2],
  );
  const bad = attempt(
    [15, 16, 2],
    [{ kind: 'maxpool', name: 'p', pool: 3, strides: 2, padding: 'same', ceilMode: true }],
  );
  t.ok(bad instanceof SpecError);
  t.equal((bad as SpecError).detail.field, 'layers[0].ceilMode');
  // strides default to the pool size.
  t.same(row(analyze([9, 9, 1], [{ kind: 'maxpool', name: 'p', pool: 3 }]), 'p').outputShape, [3, 3, 1]);
});

// ---------------------------------------------------------------------------------------------
// dense, batch norm, element-wise and data-movement kinds
// ---------------------------------------------------------------------------------------------

t.test('dense: in·out MACs, in·out + out parameters, bias and activation as element ops', async (t) => {
  for (const [h, w, c, units] of [
    [1, 1, 7, 3],
    [3, 5, 2, 10],
    [7, 7, 512, 1000],
  ]) {
    for (const bias of [true, false]) {
      for (const activation of ['linear', 'softmax'] as const) {
        const r = analyze(
          [h, w, c],
          [
            { kind: 'flatten', name: 'f' },
            { kind: 'dense', name: 'd', units, bias, activation },
          ],
        );
        const n = h * w * c;
        const d = row(r, 'd');
        t.same(row(r, 'f').outputShape, [n], 'flatten to H·W·C');
        t.same(d.outputShape, [units]);
        t.equal(d.params, n * units + (bias ? units : 0), `params ${h}x${w}x${c}→${units} bias ${bias}`);
        t.equal(d.trainableParams, d.params);
        t.equal(d.macs, n * units, 'MACs in·out');
        t.equal(
          d.elementOps,
          (bias ? units : 0) + (activation === 'linear' ? 0 : units),
          'element ops: bias + activation',
        );
      }
    }
  }
  // Dense after dense chains on the units.
  const chained = analyze(
    [2, 2, 3],
    [
      { kind: 'globalavgpool', name: 'g' },
      { kind: 'dense', name: 'd1', units: 5 },
      { kind: 'dense', name: 'd2', units: 4, bias: false },
    ],
  );
  t.equal(row(chained, 'd1').params, 3 * 5 + 5);
  t.equal(row(chained, 'd2').params, 5 * 4);
  t.equal(chained.totals.macs, 3 * 5 + 5 * 4);
});

t.test('dense before flatten is a shape error naming the layer', async (t) => {
  const err = attempt(
    [4, 4, 3],
    [
      { kind: 'conv2d', filters: 2, kernel: 1 },
      { kind: 'dense', name: 'fc', units: 2 },
    ],
  );
  t.ok(err instanceof SpecError && err.code === 'SHAPE_MISMATCH');
  t.match((err as SpecError).message, /^layers\[1\] \(fc\): .*flat input/);
});

t.test(
  'batch norm: gamma/beta trainable, moving statistics non-trainable, center/scale honoured',
  async (t) => {
    for (const [center, scale] of [
      [true, true],
      [true, false],
      [false, true],
      [false, false],
    ]) {
      for (const input of [
        [5, 6, 7],
        [1, 1, 64],
      ] as Shape3[]) {
        const c = input[2];
        const r = row(analyze(input, [{ kind: 'batchnorm', name: 'bn', center, scale }]), 'bn');
        const label = `center ${center} scale ${scale} on ${input.join('x')}`;
        t.equal(r.trainableParams, c * (Number(center) + Number(scale)), `${label}: trainable`);
        t.equal(r.nonTrainableParams, 2 * c, `${label}: moving mean + variance`);
        t.equal(r.params, r.trainableParams + r.nonTrainableParams);
        t.same(
          r.weights.map((x) => x.name).sort(),
          [...(center ? ['beta'] : []), ...(scale ? ['gamma'] : []), 'moving_mean', 'moving_variance'].sort(),
        );
        t.equal(r.macs, 0);
        t.equal(r.elementOps, input[0] * input[1] * c, 'one op per output element');
        t.same(r.outputShape, input);
      }
    }
    // On a flat tensor the channels are its length.
    const flat = analyze([2, 3, 4], [{ kind: 'flatten' }, { kind: 'batchnorm', name: 'bn' }]);
    t.equal(row(flat, 'bn').params, 4 * 24);
  },
);

t.test('activation, dropout, flatten, zero padding and global pooling', async (t) => {
  const [h, w, c] = [9, 6, 5];
  const r = analyze(
    [h, w, c],
    [
      { kind: 'activation', name: 'a', function: 'relu6' },
      { kind: 'dropout', name: 'drop', rate: 0.3 },
      { kind: 'zeropad', name: 'z1', padding: 2 },
      { kind: 'zeropad', name: 'z2', padding: [1, 3] },
      {
        kind: 'zeropad',
        name: 'z3',
        padding: [
          [0, 1],
          [4, 2],
        ],
      },
      {
        kind: 'branches',
        name: 'g',
        branches: [
          { name: 'avg', layers: [{ kind: 'globalavgpool', name: 'ga' }] },
          { name: 'max', layers: [{ kind: 'globalmaxpool', name: 'gm' }] },
        ],
      },
    ],
  );
  t.same(row(r, 'a').outputShape, [h, w, c]);
  t.equal(row(r, 'a').elementOps, h * w * c, 'activation: one op per element');
  t.equal(row(r, 'drop').elementOps, 0, 'dropout moves no data at inference');
  const [zh, zw] = [h + 2 + 2 + 1 + 1 + 0 + 1, w + 2 + 2 + 3 + 3 + 4 + 2];
  t.same(row(r, 'z1').outputShape, [h + 4, w + 4, c]);
  t.same(row(r, 'z2').outputShape, [h + 6, w + 10, c]);
  t.same(row(r, 'z3').outputShape, [zh, zw, c]);
  t.equal(row(r, 'z3').elementOps + row(r, 'z3').macs + row(r, 'z3').params, 0);
  for (const name of ['ga', 'gm']) {
    t.same(row(r, name).outputShape, [c], `${name} keeps channels`);
    t.equal(row(r, name).elementOps, zh * zw * c, `${name}: one op per input element`);
  }
  t.same(r.output, [2 * c], 'concat of two global pools');
  t.equal(r.totals.macs, 0);
  t.equal(r.totals.params, 0);
  t.equal(r.totals.elementOps, h * w * c + 2 * zh * zw * c, 'activation once, each global pool once');
  const err = attempt([4, 4, 1], [{ kind: 'flatten' }, { kind: 'zeropad', name: 'z', padding: 1 }]);
  t.ok(
    err instanceof SpecError && err.code === 'SHAPE_MISMATCH',
    'zero padding a flat tensor is a shape error',
  );
});

t.test('add: residual output equals its inputs, one op per element (two when scaled)', async (t) => {
  for (const scale of [undefined, 1, 0.17]) {
    const [h, w, c] = [6, 7, 4];
    const r = analyze(
      [h, w, c],
      [
        {
          kind: 'residual',
          name: 'b',
          ...(scale === undefined ? {} : { scale }),
          body: [{ kind: 'conv2d', name: 'c', filters: c, kernel: 3, padding: 'same', bias: false }],
        },
      ],
    );
    const add = row(r, 'b_add');
    t.equal(add.kind, 'add');
    t.same(add.inputShapes, [
      [h, w, c],
      [h, w, c],
    ]);
    t.same(add.outputShape, [h, w, c]);
    t.equal(add.params + add.macs, 0);
    t.equal(add.elementOps, h * w * c * (scale === undefined || scale === 1 ? 1 : 2), `scale ${scale}`);
    t.equal(r.totals.macs, h * w * c * c * 9, 'only the conv costs MACs');
  }
  const err = attempt(
    [6, 6, 3],
    [{ kind: 'residual', name: 'b', body: [{ kind: 'conv2d', filters: 3, kernel: 3 }] }],
  );
  t.ok(
    err instanceof SpecError && err.code === 'SHAPE_MISMATCH',
    'valid 3x3 body shrinks 6 → 4: no add with a 6x6 shortcut',
  );
  t.match((err as SpecError).message, /^layers\[0\] \(b_add\): .*\[6, 6, 3\].*\[4, 4, 3\]/);
});

t.test('concat: channels add up, spatial sizes must agree', async (t) => {
  const [h, w, c] = [10, 11, 6];
  const r = analyze(
    [h, w, c],
    [
      {
        kind: 'branches',
        name: 'm',
        branches: [
          { layers: [{ kind: 'conv2d', filters: 3, kernel: 1 }] },
          {
            layers: [
              { kind: 'conv2d', filters: 4, kernel: 1 },
              { kind: 'conv2d', filters: 5, kernel: 3, padding: 1 },
            ],
          },
          { layers: [{ kind: 'maxpool', pool: 3, strides: 1, padding: 'same' }] },
          { layers: [] },
        ],
      },
    ],
  );
  const concat = row(r, 'm');
  t.equal(concat.kind, 'concat');
  t.same(concat.outputShape, [h, w, 3 + 5 + c + c]);
  t.equal(concat.params + concat.macs + concat.elementOps, 0, 'pure data movement');
  t.equal(r.totals.macs, h * w * 3 * c + h * w * 4 * c + h * w * 5 * 4 * 9);
  const err = attempt(
    [10, 10, 6],
    [
      {
        kind: 'branches',
        name: 'm',
        branches: [
          { layers: [{ kind: 'conv2d', filters: 3, kernel: 1 }] },
          { layers: [{ kind: 'conv2d', filters: 3, kernel: 3 }] },
        ],
      },
    ],
  );
  t.ok(err instanceof SpecError && err.code === 'SHAPE_MISMATCH');
  t.match((err as SpecError).message, /^layers\[0\] \(m\)/);
});

t.test('totals are the sums of the rows, FLOPs twice the MACs', async (t) => {
  const r = analyze(
    [16, 16, 3],
    [
      { kind: 'conv2d', filters: 8, kernel: 3, padding: 'same' },
      { kind: 'batchnorm' },
      { kind: 'activation', function: 'relu' },
      { kind: 'maxpool', pool: 2 },
      { kind: 'flatten' },
      { kind: 'dense', units: 10 },
    ],
  );
  const conv = { params: 3 * 3 * 3 * 8 + 8, macs: 16 * 16 * 8 * 3 * 9 };
  const dense = { params: 8 * 8 * 8 * 10 + 10, macs: 8 * 8 * 8 * 10 };
  t.equal(r.totals.params, conv.params + 4 * 8 + dense.params);
  t.equal(r.totals.trainableParams, conv.params + 2 * 8 + dense.params);
  t.equal(r.totals.nonTrainableParams, 2 * 8);
  t.equal(r.totals.macs, conv.macs + dense.macs);
  t.equal(r.totals.flops, 2 * (conv.macs + dense.macs));
  t.equal(r.totals.weightBytes, 4 * r.totals.params);
  const outputs = 16 * 16 * 8 * 3 + 8 * 8 * 8 * 2 + 10;
  t.equal(r.totals.activationBytesPerImage, 4 * outputs);
  t.equal(r.totals.layers, 6);
});

// ---------------------------------------------------------------------------------------------
// receptive field
// ---------------------------------------------------------------------------------------------

/** The recurrence from the literature (Araujo et al. 2019): rf += (k_eff − 1)·jump; jump ·= s. */
function recurrence(windows: { k: [number, number]; s: [number, number]; d?: [number, number] }[]) {
  const rf: [number, number] = [1, 1];
  const jump: [number, number] = [1, 1];
  return windows.map(({ k, s, d = [1, 1] }) => {
    for (const a of [0, 1]) {
      rf[a] += (k[a] - 1) * d[a] * jump[a];
      jump[a] *= s[a];
    }
    return { rf: [...rf], jump: [...jump] };
  });
}

t.test('receptive field: a 3x3 s1, 3x3 s2, 3x3 s1 stack by hand and by the recurrence', async (t) => {
  const r = analyze(
    [32, 32, 3],
    [
      { kind: 'conv2d', name: 'a', filters: 4, kernel: 3, padding: 'same' },
      { kind: 'activation', name: 'a_relu', function: 'relu' },
      { kind: 'conv2d', name: 'b', filters: 4, kernel: 3, strides: 2, padding: 'same' },
      { kind: 'batchnorm', name: 'b_bn' },
      { kind: 'conv2d', name: 'c', filters: 4, kernel: 3, padding: 'same' },
    ],
  );
  // By hand: 1 + 2·1 = 3; 3 + 2·1 = 5 (jump becomes 2); 5 + 2·2 = 9.
  t.same(row(r, 'a').receptiveField, [3, 3]);
  t.same(row(r, 'b').receptiveField, [5, 5]);
  t.same(row(r, 'c').receptiveField, [9, 9]);
  t.same(row(r, 'c').receptiveFieldStride, [2, 2]);
  t.same(row(r, 'a_relu').receptiveField, [3, 3], 'element-wise layers keep the field');
  t.same(row(r, 'b_bn').receptiveField, [5, 5]);
  const rec = recurrence([
    { k: [3, 3], s: [1, 1] },
    { k: [3, 3], s: [2, 2] },
    { k: [3, 3], s: [1, 1] },
  ]);
  t.same(
    ['a', 'b', 'c'].map((n) => row(r, n).receptiveField),
    rec.map((x) => x.rf),
  );
});

t.test('receptive field: non-square, dilated, pooled and padded layers per axis', async (t) => {
  const r = analyze(
    [64, 64, 3],
    [
      {
        kind: 'conv2d',
        name: 'a',
        filters: 4,
        kernel: [3, 5],
        strides: [1, 2],
        dilation: [2, 1],
        padding: 'same',
      },
      { kind: 'maxpool', name: 'p', pool: 2 },
      {
        kind: 'zeropad',
        name: 'z',
        padding: [
          [1, 0],
          [2, 2],
        ],
      },
      { kind: 'conv2d', name: 'b', filters: 4, kernel: 1 },
      { kind: 'avgpool', name: 'q', pool: [3, 1], strides: [1, 2], padding: 'same' },
      { kind: 'conv2d', name: 'c', filters: 4, kernel: 3, dilation: 3, padding: 'same' },
    ],
  );
  const rec = recurrence([
    { k: [3, 5], s: [1, 2], d: [2, 1] },
    { k: [2, 2], s: [2, 2] },
    { k: [1, 1], s: [1, 1] },
    { k: [1, 1], s: [1, 1] },
    { k: [3, 1], s: [1, 2] },
    { k: [3, 3], s: [1, 1], d: [3, 3] },
  ]);
  ['a', 'p', 'z', 'b', 'q', 'c'].forEach((n, i) => {
    t.same(row(r, n).receptiveField, rec[i].rf, `${n} field`);
    t.same(row(r, n).receptiveFieldStride, rec[i].jump, `${n} stride`);
  });
  // By hand for the first two: a: [1 + 4, 1 + 4] = [5, 5], jump [1, 2]; p: [5 + 1, 5 + 2] = [6, 7], jump [2, 4].
  t.same(rec[0].rf, [5, 5]);
  t.same(rec[1].rf, [6, 7]);
  t.same(row(r, 'c').receptiveField, [6 + 2 * 2 + 6 * 2, 7 + 0 + 6 * 8], 'c by hand');
});

t.test('receptive field: where branches meet, the larger field is kept', async (t) => {
  const r = analyze(
    [32, 32, 3],
    [
      { kind: 'conv2d', name: 'stem', filters: 4, kernel: 3, padding: 'same' }, // rf 3
      {
        kind: 'branches',
        name: 'm',
        branches: [
          { name: 'one', layers: [{ kind: 'conv2d', name: 'one_c', filters: 2, kernel: 1 }] }, // 3
          {
            name: 'five',
            layers: [{ kind: 'conv2d', name: 'five_c', filters: 2, kernel: 5, padding: 'same' }],
          }, // 7
          {
            name: 'pool',
            layers: [{ kind: 'maxpool', name: 'pool_p', pool: 3, strides: 1, padding: 'same' }],
          }, // 5
        ],
      },
      {
        kind: 'residual',
        name: 'res',
        body: [{ kind: 'conv2d', name: 'res_c', filters: 8, kernel: 3, padding: 'same' }],
      }, // 9
    ],
  );
  t.same(row(r, 'one_c').receptiveField, [3, 3]);
  t.same(row(r, 'five_c').receptiveField, [7, 7]);
  t.same(row(r, 'pool_p').receptiveField, [5, 5]);
  t.same(row(r, 'm').receptiveField, [7, 7], 'concat keeps the largest branch');
  t.same(row(r, 'res_add').receptiveField, [9, 9], 'add keeps the body over the identity shortcut');
});

t.test(
  'receptive field: a broadcast squeeze-excitation scale widens the field, not the stride',
  async (t) => {
    const r = analyze(
      [16, 16, 4],
      [
        { kind: 'conv2d', name: 'c', filters: 4, kernel: 3, strides: 2, padding: 'same' }, // rf 3, jump 2, 8x8
        {
          kind: 'branches',
          name: 'se',
          merge: 'multiply',
          branches: [
            { name: 'x', layers: [] },
            {
              name: 'scale',
              layers: [
                { kind: 'globalavgpool', name: 'squeeze', keepdims: true }, // 3 + 7·2 = 17, jump 16
                { kind: 'conv2d', name: 'excite', filters: 4, kernel: 1 },
              ],
            },
          ],
        },
        { kind: 'conv2d', name: 'after', filters: 4, kernel: 3, padding: 'same' }, // 17 + 2·2 = 21
      ],
    );
    t.same(row(r, 'squeeze').receptiveField, [17, 17], 'the pool covers the whole 8x8 map');
    t.same(row(r, 'se').receptiveField, [17, 17], 'the scale reaches the whole map');
    t.same(row(r, 'se').receptiveFieldStride, [2, 2], "the stride stays the map's, not the pool's 16");
    t.same(row(r, 'after').receptiveField, [21, 21]);
  },
);

// ---------------------------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------------------------

t.test('peak activation memory of a tiny projection-residual block, by hand', async (t) => {
  // input 4x4x2 (32 elements). Execution order: body c1 (4x4x8 = 128), c2 (4x4x4 = 64), shortcut s
  // (64), add (64), post relu (64), global pool (4).
  // c1 runs: input 32 + c1 128 = 160. c2 runs: input (still needed by s) 32 + c1 128 + c2 64 = 224.
  // s runs: c1 freed; input 32 + c2 64 + s 64 = 160. add: c2 64 + s 64 + add 64 = 192. relu: 128. pool: 68.
  // Peak: 224 elements at c2 = 896 bytes per image.
  const spec: NodeSpec[] = [
    {
      kind: 'residual',
      name: 'b',
      body: [
        { kind: 'conv2d', name: 'c1', filters: 8, kernel: 3, padding: 'same' },
        { kind: 'conv2d', name: 'c2', filters: 4, kernel: 1 },
      ],
      shortcut: { layers: [{ kind: 'conv2d', name: 's', filters: 4, kernel: 1 }] },
      post: [{ kind: 'activation', name: 'relu', function: 'relu' }],
    },
    { kind: 'globalavgpool', name: 'gap' },
  ];
  const one = analyze([4, 4, 2], spec);
  t.same(
    one.layers.map((l) => l.name),
    ['c1', 'c2', 's', 'b_add', 'relu', 'gap'],
    'execution order assumed above',
  );
  t.equal(one.totals.peakActivationBytes, 224 * 4);
  t.equal(one.totals.peakActivationLayer, 'c2');
  t.equal(
    one.totals.activationBytesPerImage,
    (128 + 64 + 64 + 64 + 64 + 4) * 4,
    'sum of outputs, input excluded',
  );
  for (const batch of [2, 3, 32]) {
    const r = analyze([4, 4, 2], spec, batch);
    t.equal(r.totals.peakActivationBytes, 224 * 4 * batch, `batch ${batch} scales the peak linearly`);
    t.equal(
      r.totals.activationBytesPerImage,
      one.totals.activationBytesPerImage,
      'per-image sum ignores the batch',
    );
  }
});

/**
 * An independent liveness model: at step i the live tensors are those produced at or before i and
 * read at or after i (the input counts as produced before step 0), plus step i's output itself;
 * the network output lives to the end. Peak = max over steps, and over the moment before step 0.
 */
function peakBySets(r: AnalysisReport): number {
  const size = new Map<string, number>([['input', r.input.reduce((a, b) => a * b, 1) * 4]]);
  const produced = new Map<string, number>([['input', -1]]);
  const lastRead = new Map<string, number>();
  r.layers.forEach((l, i) => {
    size.set(l.name, l.outputBytes);
    produced.set(l.name, i);
    for (const name of l.inputs) lastRead.set(name, Math.max(lastRead.get(name) ?? -1, i));
  });
  const output = r.layers[r.layers.length - 1].name;
  let peak = size.get('input')!;
  r.layers.forEach((_l, i) => {
    let live = 0;
    for (const [name, at] of produced) {
      if (at > i) continue;
      const until = name === output ? Infinity : (lastRead.get(name) ?? at);
      if (at === i || until >= i) live += size.get(name)!;
    }
    peak = Math.max(peak, live);
  });
  return peak * r.batch;
}

t.test(
  'peak activation memory agrees with an independent liveness model on branching networks',
  async (t) => {
    const r = analyze(
      [12, 12, 8],
      [
        { kind: 'conv2d', filters: 16, kernel: 3, padding: 'same' },
        {
          kind: 'branches',
          name: 'm',
          branches: [
            { layers: [{ kind: 'conv2d', filters: 4, kernel: 1 }] },
            {
              layers: [
                { kind: 'conv2d', filters: 24, kernel: 1 },
                { kind: 'conv2d', filters: 8, kernel: 3, padding: 1 },
              ],
            },
            {
              layers: [
                { kind: 'maxpool', pool: 3, strides: 1, padding: 'same' },
                { kind: 'conv2d', filters: 2, kernel: 1 },
              ],
            },
          ],
        },
        {
          kind: 'residual',
          name: 'r',
          preact: [{ kind: 'batchnorm' }],
          body: [{ kind: 'conv2d', filters: 14, kernel: 3, padding: 'same' }],
          shortcut: { from: 'preact', layers: [{ kind: 'conv2d', filters: 14, kernel: 1 }] },
        },
        { kind: 'maxpool', pool: 2 },
        { kind: 'flatten' },
        { kind: 'dense', units: 3 },
      ],
      5,
    );
    t.equal(r.totals.peakActivationBytes, peakBySets(r));
    t.ok(r.totals.peakActivationBytes > 5 * 4 * 12 * 12 * 16, 'the peak is more than one feature map');
  },
);

// ---------------------------------------------------------------------------------------------
// The kinds of MobileNet/EfficientNet-class models
// ---------------------------------------------------------------------------------------------

t.test(
  'depthwise conv (groups = channels, multiplier m): params kh·kw·C·m (+C·m bias), MACs Hout·Wout·C·m·kh·kw',
  async (t) => {
    const mismatches: string[] = [];
    for (const c of [1, 3, 8])
      for (const m of [1, 2])
        for (const k of [3, 5])
          for (const s of [1, 2])
            for (const bias of [true, false]) {
              const r = analyze(
                [9, 10, c],
                [
                  {
                    kind: 'conv2d',
                    name: 'dw',
                    filters: c * m,
                    kernel: k,
                    strides: s,
                    padding: 'same',
                    groups: c,
                    bias,
                  },
                ],
              );
              const oh = Math.ceil(9 / s);
              const ow = Math.ceil(10 / s);
              const want = {
                params: k * k * c * m + (bias ? c * m : 0),
                macs: oh * ow * c * m * k * k,
                out: [oh, ow, c * m],
              };
              const got = row(r, 'dw');
              if (
                JSON.stringify({ params: got.params, macs: got.macs, out: got.outputShape }) !==
                JSON.stringify(want)
              )
                mismatches.push(`C${c} m${m} k${k} s${s} bias ${bias}`);
            }
    verdict(t, mismatches, 'depthwise sweep');
  },
);

t.test(
  'multiply broadcasts axes of size 1 between equally ranked inputs; 0 MACs, one element op per output and extra input',
  async (t) => {
    const r = analyze(
      [6, 5, 4],
      [
        {
          kind: 'branches',
          name: 'se',
          merge: 'multiply',
          branches: [{ layers: [] }, { layers: [{ kind: 'globalavgpool', name: 'g', keepdims: true }] }],
        },
      ],
    );
    const m = row(r, 'se');
    t.same(m.outputShape, [6, 5, 4]);
    t.equal(m.macs, 0);
    t.equal(m.elementOps, 6 * 5 * 4);
    t.same(row(r, 'g').outputShape, [1, 1, 4], 'keepdims keeps 1x1');
    t.equal(row(r, 'g').elementOps, 6 * 5 * 4, 'global pooling: one op per input element');
    const bad = attempt(
      [6, 5, 4],
      [
        {
          kind: 'branches',
          name: 'x',
          merge: 'multiply',
          branches: [{ layers: [] }, { layers: [{ kind: 'globalavgpool' }] }],
        },
      ],
    );
    t.ok(
      bad instanceof SpecError && bad.code === 'SHAPE_MISMATCH' && /same rank/.test(bad.message),
      'a [C] vector times a [H, W, C] map is refused, naming the rule',
    );
    const three = analyze(
      [4, 4, 2],
      [
        {
          kind: 'branches',
          name: 'p',
          merge: 'multiply',
          branches: [{ layers: [] }, { layers: [] }, { layers: [] }],
        },
      ],
    );
    t.equal(row(three, 'p').elementOps, 2 * 4 * 4 * 2, 'three inputs: two products per element');
  },
);

t.test('reshape: same elements, one −1 inferred; mismatches refused', async (t) => {
  t.same(
    row(analyze([4, 6, 3], [{ kind: 'reshape', name: 'r', shape: [2, -1, 3] }]), 'r').outputShape,
    [2, 12, 3],
  );
  t.same(row(analyze([4, 6, 3], [{ kind: 'reshape', name: 'r', shape: [-1] }]), 'r').outputShape, [72]);
  const r = row(analyze([4, 6, 3], [{ kind: 'reshape', name: 'r', shape: [72] }]), 'r');
  t.same([r.params, r.macs, r.elementOps], [0, 0, 0], 'pure data movement');
  const bad = attempt([4, 6, 3], [{ kind: 'reshape', name: 'r', shape: [5, -1, 3] }]);
  t.ok(
    bad instanceof SpecError && bad.code === 'SHAPE_MISMATCH',
    'a −1 that does not divide is a shape mismatch',
  );
  const wrongRank = attempt(
    [4, 6, 3],
    [{ kind: 'reshape', name: 'r', shape: [8, 9] } as unknown as NodeSpec],
  );
  t.ok(
    wrongRank instanceof SpecError && wrongRank.detail.field === 'layers[0].shape',
    'two axes are refused: engines hold [C] or [H, W, C]',
  );
});

t.test(
  'rescaling and normalization: 0 MACs, one element op per output; normalization weights mean, variance, count',
  async (t) => {
    const r = analyze(
      [5, 5, 3],
      [
        { kind: 'rescaling', name: 's', scale: [1, 2, 3], offset: 0 },
        { kind: 'normalization', name: 'n' },
      ],
    );
    t.same([row(r, 's').params, row(r, 's').macs, row(r, 's').elementOps], [0, 0, 75]);
    const n = row(r, 'n');
    t.same(
      n.weights.map((w) => [w.name, w.shape, w.trainable]),
      [
        ['mean', [3], false],
        ['variance', [3], false],
        ['count', [], false],
      ],
    );
    t.same(
      [n.params, n.trainableParams, n.nonTrainableParams],
      [7, 0, 7],
      'Keras counts 2·C + 1 non-trainable parameters',
    );
    const constants = row(
      analyze([5, 5, 3], [{ kind: 'normalization', name: 'n', mean: [0, 1, 2], variance: 1 }]),
      'n',
    );
    t.equal(constants.params, 0, 'constants are not weights');
    const wrong = attempt([5, 5, 3], [{ kind: 'rescaling', name: 's', scale: [1, 2] }]);
    t.ok(
      wrong instanceof SpecError &&
        wrong.detail.field === 'layers[0] (s)' &&
        /2 scale values/.test(wrong.message),
      'a per-channel list of the wrong length is named, with its layer',
    );
  },
);

t.test('activation parameters: defaults, and refusals that name the field', async (t) => {
  const graph = normalizeSpec({
    input: [2, 2, 1],
    layers: [
      { kind: 'activation', name: 'a', function: 'hard_sigmoid' },
      { kind: 'activation', name: 'b', function: 'leaky_relu' },
      { kind: 'activation', name: 'c', function: 'swish' },
      { kind: 'activation', name: 'd', function: 'hard_silu' },
    ],
  });
  t.same(
    graph.nodes.map((n) => n.attrs),
    [
      { function: 'hard_sigmoid', alpha: 1 / 6, beta: 0.5 },
      { function: 'leaky_relu', alpha: 0.01 },
      { function: 'silu' },
      { function: 'hard_swish' },
    ],
    'defaults filled in, aliases resolved',
  );
  const bad = attempt(
    [2, 2, 1],
    [{ kind: 'activation', name: 'a', function: 'relu', alpha: 0.1 } as NodeSpec],
  );
  t.ok(
    bad instanceof SpecError &&
      bad.detail.field === 'layers[0].alpha' &&
      /relu takes no parameters/.test(bad.message),
    'a parameter the function does not take',
  );
  const clip = attempt(
    [2, 2, 1],
    [{ kind: 'activation', name: 'a', function: 'clip', min: 2, max: 1 } as NodeSpec],
  );
  t.ok(clip instanceof SpecError && clip.detail.field === 'layers[0].max', 'clip needs max above min');
});
