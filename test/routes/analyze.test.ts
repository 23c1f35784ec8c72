// POST /analyze, GET /architectures and GET /health/live through app.inject. Expected figures
// are derived here from the formulas in the README (or from published counts), never copied
// from a response.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { zooNames, ZOO } from '../../models/index.js';
import { buildApp } from '../../src/app.js';
import { testConfig, type Config } from '../../src/config.js';

const app = await buildApp(testConfig());
t.teardown(() => app.close());

async function withApp(overrides: Partial<Config>, fn: (app: FastifyInstance) => Promise<void>) {
  const other = await buildApp(testConfig(overrides));
  try {
    await fn(other);
  } finally {
    await other.close();
  }
}

const post = (payload: unknown, on: FastifyInstance = app) =>
  on.inject({ method: 'POST', url: '/analyze', payload: payload as InjectOptions['payload'] });
const postRaw = (payload: string, contentType = 'application/json', on: FastifyInstance = app) =>
  on.inject({ method: 'POST', url: '/analyze', headers: { 'content-type': contentType }, payload });

/** Every error body: {statusCode, code, error, message}, statusCode equal to the HTTP status. */
function assertError(
  t: Tap,
  res: LightMyRequestResponse,
  status: number,
  code?: string,
): Record<string, unknown> {
  t.equal(res.statusCode, status, `status ${status}: ${res.body.slice(0, 300)}`);
  if (res.statusCode < 400) return {}; // not an error at all: the status failure says it all
  t.match(res.headers['content-type'], /application\/json/);
  const body = res.json() as Record<string, unknown>;
  t.equal(body.statusCode, res.statusCode, 'statusCode in the body');
  t.equal(body.error, STATUS_CODES[res.statusCode], 'error is the status text');
  t.type(body.code, 'string');
  t.type(body.message, 'string');
  t.ok(typeof body.message === 'string' && body.message.length > 0, 'a message');
  if (code) t.equal(body.code, code);
  return body;
}
type Tap = Pick<typeof t, 'equal' | 'match' | 'type' | 'ok'>;

// ---------------------------------------------------------------------------------------------
// reports
// ---------------------------------------------------------------------------------------------

t.test('{model: seed_5x5}: the 5x5 same conv costs 28·28·32·5·5·192 MACs', async (t) => {
  const res = await post({ model: 'seed_5x5' });
  t.equal(res.statusCode, 200);
  const r = res.json();
  const macs = 28 * 28 * 32 * 5 * 5 * 192;
  t.equal(macs, 120_422_400, 'the README figure');
  t.equal(r.totals.macs, macs);
  t.equal(r.totals.flops, 2 * macs);
  t.equal(r.layers.find((l: { name: string }) => l.name === 'conv5x5').macs, macs);
  t.same(r.output, [28, 28, 32]);
  t.same(r.input, [28, 28, 192]);
  t.type(r.conventions.mac, 'string', 'conventions come with every report');
  t.same(r.bottlenecks, [], 'no 1x1 reduction in front');
});

t.test('{model: seed_5x5_bottleneck}: the bottleneck row', async (t) => {
  const res = await post({ model: 'seed_5x5_bottleneck' });
  t.equal(res.statusCode, 200);
  const r = res.json();
  const without = 28 * 28 * 32 * 5 * 5 * 192;
  const reduction = 28 * 28 * 16 * 192;
  const conv = 28 * 28 * 32 * 5 * 5 * 16;
  t.same([reduction, conv, reduction + conv], [2_408_448, 10_035_200, 12_443_648], 'the README figures');
  t.equal(r.bottlenecks.length, 1);
  t.match(r.bottlenecks[0], {
    conv: 'conv5x5',
    reduction: 'reduce1x1',
    kernel: [5, 5],
    reducedChannels: 16,
    macsWithout: without,
    reductionMacs: reduction,
    convMacs: conv,
    macsWith: reduction + conv,
  });
  t.ok(Math.abs(r.bottlenecks[0].ratio - (reduction + conv) / without) < 1e-12, 'ratio = with / without');
  t.equal(Number(r.bottlenecks[0].ratio.toFixed(4)), 0.1033, 'about a tenth, as the README says');
  t.equal(r.totals.macs, reduction + conv);
});

t.test('{model, input, classes, includeTop} are honoured', async (t) => {
  // torchvision resnet18 has 11,689,512 parameters, of which the 1000-way fc holds 512·1000 + 1000.
  const fc1000 = 512 * 1000 + 1000;
  const ten = (await post({ model: 'resnet18', input: [64, 64, 3], classes: 10 })).json();
  t.same(ten.input, [64, 64, 3]);
  t.same(ten.output, [10]);
  t.equal(ten.totals.trainableParams, 11_689_512 - fc1000 + (512 * 10 + 10));
  const headless = (await post({ model: 'resnet18', input: [64, 64, 3], includeTop: false })).json();
  t.same(headless.output, [64 / 32, 64 / 32, 512], 'output stride 32');
  t.equal(headless.totals.trainableParams, 11_689_512 - fc1000);
  const keras = (await post({ model: 'resnet50', includeTop: false })).json();
  t.equal(keras.totals.params, 23_587_712, 'Keras ResNet50(include_top=False)');
  t.same(keras.output, [7, 7, 2048]);
});

/** The architecture-spec example (examples/tiny-spec.json, shown in docs/spec.md), which must stay true. */
function exampleSpec(): { name: string; input: number[]; layers: unknown[] } {
  return JSON.parse(readFileSync(new URL('../../examples/tiny-spec.json', import.meta.url), 'utf8'));
}

t.test('{spec}: the example spec analyses, with figures computed by hand', async (t) => {
  const spec = exampleSpec();
  const res = await post({ spec });
  t.equal(res.statusCode, 200, res.body.slice(0, 300));
  const r = res.json();
  const hw = 32 * 32;
  const stem = { params: 3 * 3 * 3 * 16, macs: hw * 16 * 3 * 9 }; // bias false
  const bn = { trainable: 2 * 16, frozen: 2 * 16 };
  const block = { params: 3 * 3 * 16 * 16 + 16, macs: hw * 16 * 16 * 9 }; // padding 1 keeps 32x32
  const branch = { params: 16 * 8 + 8, macs: hw * 8 * 16 };
  const channels = 8 + 16; // 1x1 conv branch + same max-pool branch
  const dense = { params: channels * 10 + 10, macs: channels * 10 };
  t.equal(r.model, 'tiny');
  t.same(r.output, [10]);
  t.equal(r.totals.macs, stem.macs + block.macs + branch.macs + dense.macs);
  t.equal(r.totals.nonTrainableParams, 2 * bn.frozen);
  t.equal(
    r.totals.trainableParams,
    stem.params + block.params + branch.params + dense.params + 2 * bn.trainable,
  );
  t.equal(r.totals.layers, 12, 'conv, bn, relu, (conv, bn, add, relu), (conv, pool, concat), gap, dense');
  t.same(
    r.layers.map((l: { name: string }) => l.name),
    [
      'stem',
      'batch_normalization',
      'activation',
      'block1_conv2d',
      'block1_batch_normalization',
      'block1_add',
      'block1_activation',
      'mixed_branch1_conv2d',
      'mixed_branch2_max_pooling2d',
      'mixed',
      'global_average_pooling2d',
      'dense',
    ],
    'generated names as docs/spec.md describes',
  );
  t.equal(r.blocks.residual.length, 1);
  t.equal(r.blocks.residual[0].name, 'block1');
  t.equal(r.blocks.inception.length, 1);
  t.same(
    r.blocks.inception[0].branches.map((b: { outputChannels: number }) => b.outputChannels),
    [8, 16],
  );
});

t.test('{compare: [plain34, resnet34]}: the deltas are the three projection shortcuts', async (t) => {
  const res = await post({ compare: [{ model: 'plain34' }, { model: 'resnet34' }] });
  t.equal(res.statusCode, 200);
  const { comparison, reports } = res.json();
  // torchvision resnet34 projects at the start of layer2, layer3 and layer4 with a 1x1 stride-2 conv
  // (no bias) and a batch norm: 64→128 at 28x28, 128→256 at 14x14, 256→512 at 7x7.
  const proj: [number, number, number][] = [
    [28, 64, 128],
    [14, 128, 256],
    [7, 256, 512],
  ];
  const macs = proj.reduce((s, [hw, cin, cout]) => s + hw * hw * cout * cin, 0);
  const convParams = proj.reduce((s, [, cin, cout]) => s + cin * cout, 0);
  const bnChannels = proj.reduce((s, [, , cout]) => s + cout, 0);
  t.same(comparison.models, ['plain34', 'resnet34']);
  t.equal(comparison.totals.macs.b, 3_663_761_408, "resnet34: torchvision's MACs");
  t.equal(comparison.totals.macs.delta, macs);
  t.equal(comparison.totals.macs.a, 3_663_761_408 - macs);
  t.equal(comparison.totals.macs.ratio, comparison.totals.macs.b / comparison.totals.macs.a);
  t.equal(comparison.totals.trainableParams.delta, convParams + 2 * bnChannels);
  t.equal(comparison.totals.nonTrainableParams.delta, 2 * bnChannels);
  t.equal(comparison.totals.params.delta, convParams + 4 * bnChannels);
  t.equal(comparison.totals.flops.delta, 2 * macs);
  t.equal(comparison.totals.layers.delta, 16 + 3 * 2, 'one add per block plus conv+bn per projection');
  t.same(comparison.blocks, { a: { residual: 0, inception: 0 }, b: { residual: 16, inception: 0 } });
  t.equal(reports.length, 2);
  t.equal(reports[0].model, 'plain34');
  t.equal(reports[1].totals.macs, comparison.totals.macs.b);
});

t.test('{compare} with a spec on one side', async (t) => {
  const handWritten = {
    name: 'by_hand',
    input: [28, 28, 192],
    layers: [
      { kind: 'conv2d', name: 'r', filters: 16, kernel: 1 },
      { kind: 'activation', function: 'relu' },
      { kind: 'conv2d', name: 'c', filters: 32, kernel: 5, padding: 'same' },
    ],
  };
  const res = await post({ compare: [{ model: 'seed_5x5' }, { spec: handWritten }] });
  t.equal(res.statusCode, 200, res.body.slice(0, 300));
  const { comparison } = res.json();
  const a = 28 * 28 * 32 * 25 * 192;
  const b = 28 * 28 * 16 * 192 + 28 * 28 * 32 * 25 * 16;
  t.same(comparison.models, ['seed_5x5', 'by_hand']);
  t.same(comparison.totals.macs, { a, b, delta: b - a, ratio: b / a });
  t.same(comparison.bottlenecks, { a: 0, b: 1 });

  const broken = await post({
    compare: [
      { model: 'seed_5x5' },
      { spec: { input: [8, 8, 3], layers: [{ kind: 'conv2d', name: 'k', filters: 4, kernel: 9 }] } },
    ],
  });
  const body = assertError(t, broken, 400, 'SHAPE_MISMATCH');
  t.match(body.message, /^compare\[1\]\.spec\.layers\[0\] \(k\)/, 'names the side and the layer');
});

t.test('batch scales the peak activation memory linearly', async (t) => {
  // seed_5x5: input 28·28·192 = 150,528 elements; conv output 28·28·32 = 25,088. While the conv runs,
  // input and output are live: 175,616 elements = 702,464 bytes. The ReLU then holds 2·25,088.
  const perImage = (28 * 28 * 192 + 28 * 28 * 32) * 4;
  for (const batch of [undefined, 1, 4, 64]) {
    const r = (await post({ model: 'seed_5x5', ...(batch ? { batch } : {}) })).json();
    t.equal(r.batch, batch ?? 1);
    t.equal(r.totals.peakActivationBytes, perImage * (batch ?? 1), `batch ${batch ?? 'default'}`);
    t.equal(r.totals.peakActivationLayer, 'conv5x5');
  }
  const spec = (await post({ spec: exampleSpec(), batch: 3 })).json();
  const one = (await post({ spec: exampleSpec() })).json();
  t.equal(spec.totals.peakActivationBytes, 3 * one.totals.peakActivationBytes, 'the same for a spec');
  const cmp = (
    await post({ compare: [{ model: 'seed_5x5' }, { model: 'seed_5x5_bottleneck' }], batch: 2 })
  ).json();
  t.equal(cmp.comparison.totals.peakActivationBytes.a, 2 * perImage, 'and for both sides of a comparison');
  for (const bad of [0, -1, 1.5, 65_537, '2']) {
    assertError(t, await post({ model: 'seed_5x5', batch: bad }), 400, 'VALIDATION_ERROR');
  }
});

t.test('resnet152 analyses through inject', async (t) => {
  const res = await post({ model: 'resnet152' });
  t.equal(res.statusCode, 200);
  const r = res.json();
  t.equal(r.totals.params, 60_419_944, 'Keras published total');
  t.equal(r.totals.nonTrainableParams, 151_424);
  const tv = (await post({ model: 'resnet152_tv' })).json();
  t.equal(tv.totals.macs, 11_513_626_624, "torchvision's MACs");
});

t.test('GET /architectures lists every zoo model with params and MACs', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/architectures' });
  t.equal(res.statusCode, 200);
  const list = res.json().architectures as {
    name: string;
    input: number[];
    params: number;
    macs: number;
    family: string;
    layout: string;
  }[];
  t.same(
    list.map((a) => a.name),
    zooNames(),
  );
  for (const a of list) {
    const entry = ZOO.get(a.name)!;
    t.same(a.input, entry.defaultInput, `${a.name}: default input`);
    t.equal(a.family, entry.family);
    t.ok(Number.isSafeInteger(a.params) && a.params > 0, `${a.name}: params ${a.params}`);
    t.ok(Number.isSafeInteger(a.macs) && a.macs > 0, `${a.name}: MACs ${a.macs}`);
  }
  const get = (n: string) => list.find((a) => a.name === n)!;
  t.equal(get('resnet50').params, 25_636_712, 'Keras ResNet50');
  t.equal(get('resnet18').macs, 1_814_073_344, 'torchvision resnet18');
  t.equal(get('seed_5x5').macs, 28 * 28 * 32 * 5 * 5 * 192);
  t.equal(get('seed_5x5_bottleneck').macs, 28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16);
});

t.test('GET /health/live', async (t) => {
  const res = await app.inject({ method: 'GET', url: '/health/live' });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { status: 'live' });
});

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

t.test('an unknown model is a 404 listing the available names', async (t) => {
  const body = assertError(t, await post({ model: 'resnet51' }), 404, 'UNKNOWN_MODEL');
  t.same(body.available, zooNames());
  t.match(body.message, /"resnet51"/);
  t.equal(body.received, 'resnet51');
  const side = assertError(
    t,
    await post({ compare: [{ model: 'resnet18' }, { model: 'nope' }] }),
    404,
    'UNKNOWN_MODEL',
  );
  t.match(side.message, /^compare\[1\]\.model/);
});

const KINDS = [
  'conv2d',
  'batchnorm',
  'activation',
  'zeropad',
  'maxpool',
  'avgpool',
  'globalavgpool',
  'globalmaxpool',
  'flatten',
  'dense',
  'dropout',
  'sequence',
  'residual',
  'branches',
  'repeat',
];

t.test('an unknown layer kind is a 400 UNKNOWN_LAYER_KIND listing the supported kinds', async (t) => {
  for (const layers of [
    [{ kind: 'conv3d' }],
    [
      { kind: 'activation', function: 'relu' },
      { kind: 'residual', body: [{ kind: 'Conv2D', filters: 3 }] },
    ],
    [{ kind: 'branches', branches: [{ layers: [{ kind: 'add' }] }] }],
  ]) {
    const body = assertError(
      t,
      await post({ spec: { input: [8, 8, 3], layers } }),
      400,
      'UNKNOWN_LAYER_KIND',
    );
    const missing = KINDS.filter((k) => !(body.message as string).includes(k));
    t.same(missing, [], 'every supported kind is listed');
    t.match(body.field, /kind$/, 'the field is the kind');
  }
});

t.test('a misspelt property is a 400 naming it, never silently ignored', async (t) => {
  // "stride" for "strides": if it were dropped, the conv would silently run at stride 1.
  const conv = assertError(
    t,
    await post({
      spec: { input: [8, 8, 3], layers: [{ kind: 'conv2d', filters: 4, kernel: 3, stride: 2 }] },
    }),
    400,
  );
  t.match(conv.message, /\bstride\b/, 'names "stride"');
  t.match(conv.field, /stride$/);
  const top = assertError(t, await post({ model: 'resnet18', clases: 10 }), 400);
  t.match(top.message, /\bclases\b/, 'names "clases"');
  const spec = assertError(
    t,
    await post({ spec: { input: [8, 8, 3], layers: [{ kind: 'flatten' }], lyers: [] } }),
    400,
  );
  t.match(spec.message, /\blyers\b/, 'names "lyers"');
  const residual = assertError(
    t,
    await post({ spec: { input: [8, 8, 3], layers: [{ kind: 'residual', body: [], shotcut: 'identity' }] } }),
    400,
  );
  t.match(residual.message, /\bshotcut\b/, 'names "shotcut"');
});

t.test('schema errors name the field, the value and what was expected', async (t) => {
  const body = assertError(
    t,
    await post({
      spec: {
        input: [8, 8, 3],
        layers: [
          { kind: 'activation', function: 'relu' },
          { kind: 'residual', body: [{ kind: 'conv2d', filters: 0, kernel: 3 }] },
        ],
      },
    }),
    400,
  );
  t.match(body.field, /layers.*1.*body.*0.*filters/);
  t.equal(body.received, 0);
  t.match(body.message, /filters/);
  const missing = assertError(
    t,
    await post({ spec: { input: [8, 8, 3], layers: [{ kind: 'conv2d', kernel: 3 }] } }),
    400,
  );
  t.match(missing.message, /filters/, 'a missing required field is named');
  const semantic = assertError(
    t,
    await post({
      spec: { input: [8, 8, 3], layers: [{ kind: 'conv2d', filters: 6, kernel: 1, groups: 4 }] },
    }),
    400,
  );
  t.equal(semantic.field, 'spec.layers[0].groups', 'semantic errors are prefixed with spec.');
});

t.test('shape errors are 400s naming the layer path', async (t) => {
  const add = assertError(
    t,
    await post({
      spec: {
        input: [8, 8, 3],
        layers: [{ kind: 'residual', name: 'blk', body: [{ kind: 'conv2d', filters: 8, kernel: 1 }] }],
      },
    }),
    400,
    'SHAPE_MISMATCH',
  );
  t.match(add.message, /^spec\.layers\[0\] \(blk_add\): .*\[8, 8, 3\].*\[8, 8, 8\]/);
  const kernel = assertError(
    t,
    await post({
      spec: {
        input: [4, 4, 3],
        layers: [
          { kind: 'activation', function: 'relu' },
          { kind: 'residual', name: 'b', body: [{ kind: 'conv2d', name: 'big', filters: 3, kernel: 5 }] },
        ],
      },
    }),
    400,
    'SHAPE_MISMATCH',
  );
  t.match(
    kernel.message,
    /^spec\.layers\[1\]\.body\[0\] \(big\): (?=.*5x5)(?=.*4x4)/,
    'names the kernel and the input size',
  );
  const dense = assertError(
    t,
    await post({
      spec: {
        input: [4, 4, 3],
        layers: [
          { kind: 'conv2d', filters: 2, kernel: 1 },
          { kind: 'dense', name: 'fc', units: 2 },
        ],
      },
    }),
    400,
    'SHAPE_MISMATCH',
  );
  t.match(dense.message, /^spec\.layers\[1\] \(fc\)/);
  const concat = assertError(
    t,
    await post({
      spec: {
        input: [8, 8, 3],
        layers: [
          {
            kind: 'branches',
            name: 'm',
            branches: [{ layers: [] }, { layers: [{ kind: 'maxpool', pool: 2 }] }],
          },
        ],
      },
    }),
    400,
    'SHAPE_MISMATCH',
  );
  t.match(concat.message, /^spec\.layers\[0\] \(m\)/);
  // Inception v3 has Keras' minimum input side of 75; below it the input itself is refused.
  const model = assertError(t, await post({ model: 'inception_v3', input: [8, 8, 3] }), 400);
  t.equal(model.field, 'input');
  t.match(model.message, /75/);
});

t.test('malformed bodies are 400s', async (t) => {
  assertError(t, await postRaw('{"model":'), 400, 'INVALID_JSON');
  assertError(t, await postRaw('{"model": "seed_5x5",}'), 400, 'INVALID_JSON');
  assertError(t, await postRaw(''), 400, 'EMPTY_BODY');
  assertError(t, await postRaw('   \n'), 400, 'EMPTY_BODY');
  assertError(t, await app.inject({ method: 'POST', url: '/analyze' }), 400);
  for (const json of [
    'null',
    '3',
    '"seed_5x5"',
    '[]',
    '{}',
    '{"model": 5}',
    '{"spec": null}',
    '{"compare": [{"model": "seed_5x5"}]}',
  ]) {
    const res = await postRaw(json);
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${json} → ${res.statusCode}`);
    assertError(t, res, res.statusCode);
  }
});

t.test('deeply nested JSON is a 400, not a 500', async (t) => {
  const n = 100_000;
  assertError(t, await postRaw('['.repeat(n) + ']'.repeat(n)), 400, 'JSON_TOO_DEEP');
  assertError(t, await postRaw(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`), 400, 'JSON_TOO_DEEP');
  assertError(
    t,
    await postRaw(`{"spec": {"input": [8, 8, 3], "layers": ${'['.repeat(n)}${']'.repeat(n)}}}`),
    400,
    'JSON_TOO_DEEP',
  );
  // Unbalanced and deep: still refused before parsing.
  assertError(t, await postRaw('['.repeat(n)), 400);
  // Brackets inside strings are not nesting.
  const bracketName = '['.repeat(150);
  const named = await post({ spec: { name: bracketName, input: [8, 8, 3], layers: [{ kind: 'flatten' }] } });
  t.equal(named.statusCode, 200, 'a name full of brackets is fine');
  t.equal(named.json().model, bracketName);
  // Nesting within the limit analyses: 60 unnamed sequences (two JSON levels each).
  let node: unknown = { kind: 'conv2d', filters: 2, kernel: 1 };
  for (let i = 0; i < 60; i++) node = { kind: 'sequence', layers: [node] };
  const deep = await post({ spec: { input: [8, 8, 3], layers: [node] } });
  t.equal(deep.statusCode, 200, 'deep but allowed');
  t.equal(deep.json().totals.macs, 8 * 8 * 2 * 3);
});

t.test('a body over ANALYZE_BODY_LIMIT is a 413 stating the limit', async (t) => {
  await withApp({ analyzeBodyLimit: 2048 }, async (small) => {
    const ok = await post({ model: 'seed_5x5' }, small);
    t.equal(ok.statusCode, 200, 'small bodies pass');
    const padded = JSON.stringify({
      spec: { name: 'x'.repeat(3000), input: [8, 8, 3], layers: [{ kind: 'flatten' }] },
    });
    const body = assertError(t, await postRaw(padded, 'application/json', small), 413, 'BODY_TOO_LARGE');
    t.match(body.message, /2048/);
    t.equal(body.limitBytes, 2048);
  });
  const huge = JSON.stringify({ model: 'seed_5x5', pad: ' '.repeat(1024 * 1024) });
  const body = assertError(t, await postRaw(huge), 413, 'BODY_TOO_LARGE');
  t.match(body.message, /1048576/, 'the default limit');
});

t.test('too many layers is a 413', async (t) => {
  const body = assertError(
    t,
    await post({
      spec: {
        input: [8, 8, 3],
        layers: [
          {
            kind: 'repeat',
            count: 10_000,
            layers: [
              { kind: 'activation', function: 'relu' },
              { kind: 'dropout', rate: 0.1 },
              { kind: 'batchnorm' },
            ],
          },
        ],
      },
    }),
    413,
    'SPEC_TOO_LARGE',
  );
  t.match(body.message, /^spec\./);
  t.match(body.message, /20000/);
  await withApp({ analyzeMaxLayers: 10 }, async (small) => {
    const relu = { kind: 'activation', function: 'relu' };
    t.equal(
      (await post({ spec: { input: [8, 8, 3], layers: Array(10).fill(relu) } }, small)).statusCode,
      200,
      '10 layers at a limit of 10',
    );
    assertError(
      t,
      await post({ spec: { input: [8, 8, 3], layers: Array(11).fill(relu) } }, small),
      413,
      'SPEC_TOO_LARGE',
    );
    assertError(t, await post({ model: 'resnet18' }, small), 413, 'SPEC_TOO_LARGE');
  });
  await withApp({ analyzeMaxMacs: 1_000_000 }, async (small) => {
    const macs = assertError(t, await post({ model: 'seed_5x5' }, small), 413, 'SPEC_TOO_LARGE');
    t.match(macs.message, /1000000/, 'the MAC limit');
  });
});

t.test('nested empty repeats are refused, not expanded', async (t) => {
  // 19 × 10,000 copies of nothing under a 5-layer limit: the expansion guard must count copies.
  await withApp({ analyzeMaxLayers: 5 }, async (small) => {
    const res = await post(
      {
        spec: {
          input: [8, 8, 3],
          layers: [{ kind: 'repeat', count: 19, layers: [{ kind: 'repeat', count: 10_000, layers: [] }] }],
        },
      },
      small,
    );
    assertError(t, res, 413, 'SPEC_TOO_LARGE');
  });
  // And at the default limit, 10,000 × 10,000 empty copies: refused (not a 500 after a long stall).
  const res = await post({
    spec: {
      input: [8, 8, 3],
      layers: [{ kind: 'repeat', count: 10_000, layers: [{ kind: 'repeat', count: 10_000, layers: [] }] }],
    },
  });
  assertError(t, res, 413, 'SPEC_TOO_LARGE');
});

t.test('a wrong content type is a 415; model files come as octet-stream or multipart', async (t) => {
  assertError(t, await postRaw('{"model":"seed_5x5"}', 'application/xml'), 415, 'UNSUPPORTED_MEDIA_TYPE');
  assertError(t, await postRaw('{"model":"seed_5x5"}', 'multipart/form-data; boundary=x'), 400);
  t.equal(
    (await postRaw('{"model":"seed_5x5"}', 'application/octet-stream')).statusCode,
    200,
    'a JSON file uploaded as bytes is read as JSON',
  );
  // text/plain has a parser in Fastify; whatever the answer, it is a client error in the same shape.
  const text = await postRaw('{"model":"seed_5x5"}', 'text/plain');
  t.ok(text.statusCode === 400 || text.statusCode === 415, `text/plain → ${text.statusCode}`);
  assertError(t, text, text.statusCode);
});

t.test('unknown routes answer in the error shape', async (t) => {
  assertError(t, await app.inject({ method: 'GET', url: '/analyse' }), 404, 'ROUTE_NOT_FOUND');
  assertError(t, await app.inject({ method: 'GET', url: '/analyze' }), 405, 'METHOD_NOT_ALLOWED');
});

t.test(
  'a repeated request for a built-in architecture is answered from the report cache, identically',
  async (t) => {
    const app2 = await buildApp(testConfig());
    const first = await app2.inject({
      method: 'POST',
      url: '/analyze',
      payload: { model: 'resnet18', classes: 10 },
    });
    const second = await app2.inject({
      method: 'POST',
      url: '/analyze',
      payload: { model: 'resnet18', classes: 10 },
    });
    t.equal(second.body, first.body);
    const other = await app2.inject({
      method: 'POST',
      url: '/analyze',
      payload: { model: 'resnet18', classes: 11 },
    });
    t.same(other.json().output, [11], 'different options, different report');
    await app2.close();
  },
);
