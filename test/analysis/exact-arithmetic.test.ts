// Every count in a report is exact: a safe integer, or the request is refused with a 4xx that says
// which quantity left the range. Channel counts grow without bound through concatenation (repeat ×
// branches), spatial sizes through zero padding, MACs through wide convs, receptive-field strides
// through repeated pooling; the generator below mixes all four at sizes on both sides of 2^53.
import t from 'tap';
import fc from 'fast-check';
import { analyzeTarget } from '../../src/services/analysis.js';
import { AppError } from '../../src/errors.js';
import { BEYOND_EXACT } from '../../src/spec/exact.js';
import type { AnalysisReport } from '../../src/analysis/analyze.js';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

/** Report fields that hold counts (a shape's entries included) and must be safe integers. */
const COUNT_KEYS = new Set([
  'params',
  'trainableParams',
  'nonTrainableParams',
  'macs',
  'flops',
  'elementOps',
  'outputElements',
  'outputBytes',
  'weightBytes',
  'activationBytesPerImage',
  'peakActivationBytes',
  'macsWithout',
  'macsWith',
  'reductionMacs',
  'convMacs',
  'paramsWithout',
  'paramsWith',
  'outputShape',
  'inputShapes',
  'inputShape',
  'input',
  'output',
  'shape',
  'receptiveField',
  'receptiveFieldStride',
]);

/** Every number in the report is finite, and every count is a safe integer; returns the offences. */
function inexact(value: unknown, path = 'report', counting = false, out: string[] = []): string[] {
  if (out.length > 5) return out;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || (counting && !Number.isSafeInteger(value))) out.push(`${path} = ${value}`);
  } else if (value === null) {
    out.push(`${path} = null`);
  } else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) inexact(v, `${path}[${i}]`, counting, out);
  } else if (typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      inexact(v, `${path}.${k}`, counting || COUNT_KEYS.has(k), out);
  }
  return out;
}

const branch = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ layers: [] }) },
  {
    weight: 1,
    arbitrary: fc
      .record({ filters: fc.integer({ min: 1, max: 1_000_000 }), kernel: fc.constantFrom(1, 3, 7) })
      .map((c) => ({ layers: [{ kind: 'conv2d', ...c, padding: 'same' }] })),
  },
);
const block = fc.oneof(
  fc
    .record({
      count: fc.integer({ min: 1, max: 400 }),
      branches: fc.array(branch, { minLength: 2, maxLength: 150 }),
    })
    .map(({ count, branches }) => ({ kind: 'repeat', count, layers: [{ kind: 'branches', branches }] })),
  fc
    .record({ count: fc.integer({ min: 1, max: 2000 }), padding: fc.integer({ min: 0, max: 10_000 }) })
    .map(({ count, padding }) => ({ kind: 'repeat', count, layers: [{ kind: 'zeropad', padding }] })),
  fc
    .record({ count: fc.integer({ min: 1, max: 200 }), strides: fc.constantFrom(2, 3, 8) })
    .map(({ count, strides }) => ({
      kind: 'repeat',
      count,
      layers: [{ kind: 'maxpool', pool: strides, strides, padding: 'same' }],
    })),
  fc
    .record({ filters: fc.integer({ min: 1, max: 1_000_000 }), kernel: fc.constantFrom(1, 3, 11) })
    .map((c) => ({ kind: 'conv2d', ...c, padding: 'same' })),
);
const spec = fc.record({
  input: fc.tuple(
    fc.integer({ min: 1, max: 8192 }),
    fc.integer({ min: 1, max: 8192 }),
    fc.integer({ min: 1, max: 4096 }),
  ),
  layers: fc.array(block, { minLength: 1, maxLength: 3 }),
});

t.test('every report is exact, or the spec is refused with the quantity named', async (t) => {
  let answered = 0;
  let refused = 0;
  fc.assert(
    fc.property(spec, fc.integer({ min: 1, max: 1024 }), (s, batch) => {
      let report: AnalysisReport;
      try {
        report = analyzeTarget({ spec: { name: 'fuzz', ...s } } as never, { batch });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        refused++;
        if (err.statusCode < 400 || err.statusCode >= 500) return false;
        if (/Infinity|NaN|null|e\+\d/.test(err.message)) return false;
        const received = err.detail.received;
        // A refusal states the true value, or that it is past the exact range.
        return (
          typeof received === 'string' ||
          (typeof received === 'number' && Number.isSafeInteger(received)) ||
          received === undefined
        );
      }
      answered++;
      const offences = inexact(report);
      if (offences.length) throw new Error(`inexact report: ${offences.join('; ')}`);
      return true;
    }),
    { numRuns: 150, seed: 20261201 },
  );
  t.ok(answered > 10, `some specs answered (${answered})`);
  t.ok(refused > 10, `some specs refused (${refused})`);
});

function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('answered, expected a refusal');
}

t.test('the cases that answered 200 with null or 2e220 are refused with the quantity named', async (t) => {
  const repeatConcat = (count: number, width: number) => ({
    name: 'grow',
    input: [8, 8, 3],
    layers: [
      {
        kind: 'repeat',
        count,
        layers: [{ kind: 'branches', branches: Array.from({ length: width }, () => ({ layers: [] })) }],
      },
    ],
  });
  for (const [count, width] of [
    [1100, 2],
    [200, 150],
  ]) {
    try {
      analyzeTarget({ spec: repeatConcat(count, width) } as never);
      t.fail(`repeat ${count} × ${width} branches was answered`);
    } catch (err) {
      const e = err as AppError;
      t.equal(e.statusCode, 413);
      t.equal(e.detail.received, BEYOND_EXACT);
      t.match(e.detail.field, /^spec\.layers\[0\]\.layers\[0\] \(repeat_\d+_branches\)$/);
      t.match(e.message, /output (channels|elements) of at most 2\^53/);
    }
  }
  // Near the edge, worked out by hand: after n doublings the output is 8x8x(3·2^n) float32, 768·2^n bytes.
  // n = 42 answers (its peak, input plus output of the last concat, is 768·3·2^41 ≈ 5.1e15 bytes);
  // n = 43 is refused for its peak (768·3·2^42 ≈ 1.01e16 > 2^53), n = 44 for the last layer's output bytes (768·2^44 ≈ 1.35e16).
  const r = analyzeTarget({ spec: repeatConcat(42, 2) } as never, {});
  t.equal(r.output[2], 3 * 2 ** 42);
  t.equal(r.totals.peakActivationBytes, 768 * 3 * 2 ** 41);
  const refusedAt = (n: number) => refusal(() => analyzeTarget({ spec: repeatConcat(n, 2) } as never, {}));
  t.match(refusedAt(43), { statusCode: 413, detail: { field: 'totals.peakActivationBytes' } });
  t.match(refusedAt(44), { statusCode: 413, detail: { received: BEYOND_EXACT }, message: /output bytes/ });
  t.ok(Number.isSafeInteger(r.totals.activationBytesPerImage));
});

t.test('a work limit names the true total, not 0 or a layer', async (t) => {
  const spec = {
    name: 'wide',
    input: [512, 512, 512],
    layers: [{ kind: 'conv2d', filters: 4096, kernel: 7, padding: 'same' }],
  };
  try {
    analyzeTarget({ spec } as never, { limits: { maxLayers: 100, maxMacs: 1e12 } });
    t.fail('answered');
  } catch (err) {
    const e = err as AppError;
    t.equal(e.statusCode, 413);
    t.equal(e.detail.field, 'totals.macs');
    t.equal(e.detail.received, 512 * 512 * 4096 * 512 * 49, 'the exact MACs');
  }
});

t.test('over HTTP: 413 JSON with the field, never 200 with null', async (t) => {
  const app = await buildApp(testConfig());
  t.teardown(() => app.close());
  const res = await app.inject({
    method: 'POST',
    url: '/analyze',
    payload: {
      spec: {
        name: 'grow',
        input: [8, 8, 3],
        layers: [
          {
            kind: 'repeat',
            count: 1100,
            layers: [{ kind: 'branches', branches: [{ layers: [] }, { layers: [] }] }],
          },
        ],
      },
    },
  });
  t.equal(res.statusCode, 413);
  const body = res.json();
  t.equal(body.code, 'SPEC_TOO_LARGE');
  t.equal(body.received, BEYOND_EXACT);
  t.match(body.field, /^spec\.layers\[0\]/);
});
