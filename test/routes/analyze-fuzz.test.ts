// Property-based fuzzing of POST /analyze: random specs (nested composites, leaves with valid
// and invalid attribute values, junk values of the wrong type) and arbitrary JSON. Whatever comes
// in, the answer is never a 5xx, and every non-200 answer has the error shape.
import t from 'tap';
import fc from 'fast-check';
import { STATUS_CODES } from 'node:http';
import { zooNames } from '../../models/index.js';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const app = await buildApp(testConfig());
t.teardown(() => app.close());

/** Bounded wall time per property, so a slow machine shortens the run rather than hanging it. */
const TIME_LIMIT_MS = 20_000;

interface Outcome {
  status: number;
  problem?: string;
}

/** POSTs a raw body and checks the invariants; returns a description of any violation. */
async function check(payload: string, contentType = 'application/json'): Promise<Outcome> {
  const res = await app.inject({
    method: 'POST',
    url: '/analyze',
    headers: { 'content-type': contentType },
    payload,
  });
  const status = res.statusCode;
  if (status >= 500) return { status, problem: `status ${status}: ${res.body.slice(0, 300)}` };
  let body: Record<string, unknown>;
  try {
    body = res.json();
  } catch {
    return { status, problem: `status ${status} with a non-JSON body: ${res.body.slice(0, 200)}` };
  }
  if (status === 200) {
    const report = (body.comparison ? (body.reports as Record<string, unknown>[])[1] : body) as {
      totals?: { macs?: unknown };
    };
    if (!Number.isSafeInteger(report?.totals?.macs))
      return { status, problem: `200 without integer totals.macs: ${res.body.slice(0, 200)}` };
    return { status };
  }
  const shapeOk =
    body.statusCode === status &&
    typeof body.code === 'string' &&
    body.code.length > 0 &&
    body.error === STATUS_CODES[status] &&
    typeof body.message === 'string' &&
    body.message.length > 0;
  if (!shapeOk)
    return { status, problem: `status ${status} without the error shape: ${res.body.slice(0, 300)}` };
  return { status };
}

// ---------------------------------------------------------------------------------------------
// arbitraries
// ---------------------------------------------------------------------------------------------

/** Values of every JSON type, including ones near numeric edges. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    0.5,
    1e300,
    -0,
    2 ** 53 + 2,
    '',
    'same',
    'relu',
    '3',
    [],
    {},
    [0],
    [1, 2, 3],
    [[1]],
    { kind: 'conv2d' },
  ),
  fc.integer({ min: -5, max: 70_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 6 }),
  fc.array(fc.integer({ min: -2, max: 9 }), { maxLength: 4 }),
);

/** Mostly a plausible value, sometimes junk. */
const or = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: junk, weight: 1 });

const small = (min: number, max: number) => fc.integer({ min, max });
const size = fc.oneof(small(1, 5), fc.tuple(small(1, 5), small(1, 5)));
const explicitPad = fc.oneof(
  small(0, 3),
  fc.tuple(small(0, 3), small(0, 3)),
  fc.tuple(fc.tuple(small(0, 3), small(0, 3)), fc.tuple(small(0, 3), small(0, 3))),
);
const padding = fc.oneof(fc.constantFrom('same', 'valid'), explicitPad);
const activationFn = fc.constantFrom('relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'linear', 'gelu');
const name = fc.oneof(
  fc.constantFrom('a', 'b', 'block1', 'conv2d', 'conv2d_1', 'input', 'x.y', 'x-1', '1bad', 'has space'),
  fc.string({ maxLength: 8 }),
);

/** A leaf record: kind always present, every other field optional. */
function leaf(
  kind: string,
  fields: Record<string, fc.Arbitrary<unknown>>,
): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = { kind: fc.constant(kind), name, ...fields };
  return fc.record(model, { requiredKeys: ['kind'] });
}

const leaves = fc.oneof(
  {
    weight: 5,
    arbitrary: leaf('conv2d', {
      filters: or(small(1, 8)),
      kernel: or(size),
      strides: or(size),
      padding: or(padding),
      dilation: or(size),
      groups: or(small(1, 4)),
      bias: or(fc.boolean()),
    }),
  },
  {
    weight: 2,
    arbitrary: leaf('batchnorm', {
      epsilon: or(fc.double({ min: 0, max: 0.1, noNaN: true })),
      center: or(fc.boolean()),
      scale: or(fc.boolean()),
    }),
  },
  { weight: 2, arbitrary: leaf('activation', { function: or(activationFn) }) },
  { weight: 1, arbitrary: leaf('zeropad', { padding: or(explicitPad) }) },
  {
    weight: 2,
    arbitrary: leaf('maxpool', {
      pool: or(size),
      strides: or(size),
      padding: or(padding),
      ceilMode: or(fc.boolean()),
    }),
  },
  {
    weight: 1,
    arbitrary: leaf('avgpool', {
      pool: or(size),
      strides: or(size),
      padding: or(padding),
      ceilMode: or(fc.boolean()),
      countIncludePad: or(fc.boolean()),
    }),
  },
  { weight: 1, arbitrary: leaf('globalavgpool', {}) },
  { weight: 1, arbitrary: leaf('globalmaxpool', {}) },
  { weight: 1, arbitrary: leaf('flatten', {}) },
  {
    weight: 1,
    arbitrary: leaf('dense', {
      units: or(small(1, 16)),
      bias: or(fc.boolean()),
      activation: or(activationFn),
    }),
  },
  { weight: 1, arbitrary: leaf('dropout', { rate: or(fc.double({ min: 0, max: 0.99, noNaN: true })) }) },
  // Kinds that do not exist, or are not authored (add, concat), or are not strings.
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom<unknown>(
        'conv3d',
        'Conv2D',
        '',
        'add',
        'concat',
        'toString',
        '__proto__',
        5,
        null,
      ),
    }),
  },
);

/** Sometimes a misspelt or unknown property rides along. */
const withStray = (arb: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .tuple(
      arb,
      fc.option(
        fc.tuple(fc.constantFrom('stride', 'filter', 'kernal', 'pading', 'unit', 'layer', 'extra'), junk),
        { freq: 8 },
      ),
    )
    .map(([o, stray]) => (stray ? { ...o, [stray[0]]: stray[1] } : o));

const { node } = fc.letrec<{ node: unknown; layers: unknown; composite: unknown }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'spec', depthSize: 'small' },
    withStray(leaves),
    tie('composite'),
    junk,
  ),
  layers: or(fc.array(tie('node'), { maxLength: 4 })),
  composite: fc.oneof(
    fc.record(
      { kind: fc.constant('sequence'), name, layers: tie('layers') },
      { requiredKeys: ['kind', 'layers'] },
    ),
    fc.record(
      {
        kind: fc.constant('residual'),
        name,
        preact: tie('layers'),
        body: tie('layers'),
        shortcut: fc.oneof(
          fc.constant('identity'),
          fc.record(
            { from: or(fc.constantFrom('input', 'preact')), layers: tie('layers') },
            { requiredKeys: ['layers'] },
          ),
          junk,
        ),
        scale: or(fc.double({ min: -2, max: 2, noNaN: true })),
        addName: name,
        post: tie('layers'),
      },
      { requiredKeys: ['kind', 'body'] },
    ),
    fc.record(
      {
        kind: fc.constant('branches'),
        name,
        branches: or(
          fc.array(fc.record({ name, layers: tie('layers') }, { requiredKeys: ['layers'] }), {
            maxLength: 3,
          }),
        ),
      },
      { requiredKeys: ['kind', 'branches'] },
    ),
    // Small counts here: large counts nested in large counts are exercised apart, below.
    fc.record(
      { kind: fc.constant('repeat'), name, count: or(small(0, 3)), layers: tie('layers') },
      { requiredKeys: ['kind', 'layers'] },
    ),
  ),
}));

/**
 * One big repeat of three shape-preserving layers at the top: 21,000 or 30,000 layers, over the
 * default limit of 20,000, without nesting large counts (see the nested-empty-repeat tests).
 * Analyses just under the limit are slow to serialise and live in analyze.test.ts instead.
 */
const bigRepeat = fc.record({
  kind: fc.constant('repeat'),
  count: fc.constantFrom(7_000, 10_000),
  layers: fc.array(
    fc.constantFrom<unknown>(
      { kind: 'activation', function: 'relu' },
      { kind: 'batchnorm' },
      { kind: 'dropout', rate: 0.2 },
    ),
    { minLength: 3, maxLength: 3 },
  ),
});

const input = or(fc.tuple(small(1, 32), small(1, 32), small(1, 8)));
const spec = fc.record(
  {
    name: fc.option(or(fc.string({ maxLength: 10 })), { nil: undefined }),
    input,
    layers: fc.oneof(
      { weight: 12, arbitrary: fc.array(node, { minLength: 1, maxLength: 5 }) },
      { weight: 2, arbitrary: fc.array(bigRepeat, { minLength: 1, maxLength: 1 }) },
      { weight: 1, arbitrary: junk },
    ),
  },
  { requiredKeys: ['input', 'layers'] },
);

const modelTarget = fc.record(
  {
    model: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...zooNames()) },
      { weight: 1, arbitrary: fc.constantFrom('nope', '', 'RESNET50') },
    ),
    input: or(fc.tuple(small(1, 320), small(1, 320), small(1, 4))),
    classes: or(small(1, 50)),
    includeTop: or(fc.boolean()),
  },
  { requiredKeys: ['model'] },
);

const target = fc.oneof(
  modelTarget,
  spec.map((s) => ({ spec: s })),
);
const batch = fc.option(or(small(1, 8)), { nil: undefined });

const body = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(spec, batch).map(([s, b]) => ({ spec: s, ...(b === undefined ? {} : { batch: b }) })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(modelTarget, batch)
      .map(([m, b]) => ({ ...m, ...(b === undefined ? {} : { batch: b }) })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(target, target, batch)
      .map(([a, b, n]) => ({ compare: [a, b], ...(n === undefined ? {} : { batch: n }) })),
  },
  { weight: 1, arbitrary: fc.record({ spec: junk, model: junk, compare: junk }, { requiredKeys: [] }) },
);

// ---------------------------------------------------------------------------------------------
// properties
// ---------------------------------------------------------------------------------------------

t.test(
  'random specs, model targets and comparisons never cause a 5xx, and errors have the error shape',
  async (t) => {
    const tally = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const outcome = await check(JSON.stringify(b));
        tally.set(outcome.status, (tally.get(outcome.status) ?? 0) + 1);
        if (outcome.problem) throw new Error(outcome.problem);
      }),
      { numRuns: 300, interruptAfterTimeLimit: TIME_LIMIT_MS },
    );
    const summary = Object.fromEntries([...tally].sort((a, b) => a[0] - b[0]));
    t.comment(`statuses: ${JSON.stringify(summary)}`);
    // The generator must reach both the analyzer and the validators, or it tests little.
    t.ok((tally.get(200) ?? 0) >= 15, `enough specs analyse (${tally.get(200) ?? 0})`);
    t.ok((tally.get(400) ?? 0) >= 15, `enough specs are refused (${tally.get(400) ?? 0})`);
    t.ok((tally.get(413) ?? 0) >= 1, `some specs exceed the layer limit (${tally.get(413) ?? 0})`);
  },
);

t.test('arbitrary JSON bodies never cause a 5xx', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (value) => {
      const outcome = await check(JSON.stringify(value) ?? 'null');
      if (outcome.problem) throw new Error(outcome.problem);
    }),
    { numRuns: 200, interruptAfterTimeLimit: TIME_LIMIT_MS },
  );
  // The top-level keys the route dispatches on, with arbitrary JSON under them.
  const keyed = fc.oneof(
    fc.record({ spec: fc.jsonValue({ maxDepth: 5 }) }),
    fc.record({ model: fc.jsonValue({ maxDepth: 2 }), input: fc.jsonValue({ maxDepth: 2 }) }),
    fc.record({ compare: fc.jsonValue({ maxDepth: 5 }) }),
    fc.record({
      spec: fc.record({
        input: fc.jsonValue({ maxDepth: 2 }),
        layers: fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 3 }),
      }),
    }),
  );
  await fc.assert(
    fc.asyncProperty(keyed, async (value) => {
      const outcome = await check(JSON.stringify(value));
      if (outcome.problem) throw new Error(outcome.problem);
    }),
    { numRuns: 200, interruptAfterTimeLimit: TIME_LIMIT_MS },
  );
  t.pass('no 5xx for arbitrary JSON');
});

t.test('arbitrary text and bytes never cause a 5xx', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.constantFrom('{', '[', '{"spec":', '"\\', '\u0000', '{"a":1}{', '[]]'),
      ),
      async (text) => {
        const outcome = await check(text);
        if (outcome.problem) throw new Error(outcome.problem);
      },
    ),
    { numRuns: 100, interruptAfterTimeLimit: TIME_LIMIT_MS },
  );
  t.pass('no 5xx for arbitrary text');
});
