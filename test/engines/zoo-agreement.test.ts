// The two engines compute the same network: for zoo models at small inputs with seeded random
// weights (He-uniform kernels, BN statistics with positive variances), ONNX Runtime's logits match
// the tfjs engine's, with batch norm folded into the convs (the default) and kept as nodes.
// Tolerance: 1e-4 relative to the largest |logit| (float32 accumulation-order noise; folding
// rounds the folded kernels once more).
import t from 'tap';
import { ZOO } from '../../models/index.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { buildOnnxGraph } from '../../src/interop/onnx/emit.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { Shape3 } from '../../src/spec/types.js';
import { backendReady } from '../helpers/engine.js';
import { relativeError, runOnnx, runTfjs } from '../helpers/onnx.js';
import { randomInput, randomWeights } from '../../bench/lib/random.js';

const TOL = 1e-4;

const CASES: { model: string; input?: Shape3 }[] = [
  { model: 'fashion_resnet' },
  { model: 'fashion_inception' },
  { model: 'googlenet_tv', input: [64, 64, 3] },
  { model: 'googlenet', input: [64, 64, 3] },
  { model: 'inception_v3', input: [75, 75, 3] },
  { model: 'inception_resnet_v2', input: [75, 75, 3] },
  { model: 'resnet50', input: [64, 64, 3] },
  { model: 'resnet50v2', input: [64, 64, 3] },
  { model: 'mobilenet_v2', input: [64, 64, 3] },
  { model: 'mobilenet_v3_small_tv', input: [64, 64, 3] },
];

t.before(async () => {
  await backendReady();
});

for (const [i, { model, input }] of CASES.entries()) {
  t.test(`${model}${input ? ` at ${input.join('x')}` : ''}: ONNX Runtime and tfjs agree`, async (t) => {
    const graph = normalizeSpec(ZOO.get(model)!.build(input ? { input } : {}));
    const bound = randomWeights(inferShapes(graph), 1000 + i);
    const x = randomInput([2, ...graph.input], 2000 + i);
    const reference = await runTfjs(graph, bound, x, true);
    const folded = await runOnnx(graph, bound, x, { logits: true });
    const kept = await runOnnx(graph, bound, x, { logits: true, foldBatchNorm: false });
    t.same(folded.shape, [2, reference.length / 2], 'output [batch, classes]');
    const errFolded = relativeError(folded.data, reference);
    const errKept = relativeError(kept.data, reference);
    t.ok(
      errFolded < TOL,
      `BN folded: max |onnx − tfjs| / max|tfjs| = ${errFolded.toExponential(2)} < ${TOL}`,
    );
    t.ok(errKept < TOL, `BN kept: max |onnx − tfjs| / max|tfjs| = ${errKept.toExponential(2)} < ${TOL}`);
    const errFold = relativeError(folded.data, kept.data);
    t.ok(errFold < TOL, `folding on vs off: ${errFold.toExponential(2)} < ${TOL}`);
    // Guard against a comparison that passes because everything collapsed to a constant.
    t.ok(
      relativeError(reference.subarray(0, reference.length / 2), reference.subarray(reference.length / 2)) >
        10 * TOL,
      'the two images give different logits',
    );
  });
}

t.test('the softmax head is kept unless logits are asked for', async (t) => {
  const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
  const bound = randomWeights(inferShapes(graph), 7);
  const x = randomInput([3, ...graph.input], 8);
  const probs = await runOnnx(graph, bound, x);
  for (let r = 0; r < 3; r++) {
    const row = probs.data.subarray(r * 10, (r + 1) * 10);
    t.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, `row ${r} sums to 1`);
  }
  t.ok(relativeError(probs.data, await runTfjs(graph, bound, x)) < TOL, 'probabilities match tfjs');
  const names = buildOnnxGraph(graph, bound).graph.outputs.map((o) => o.name);
  t.same(names, ['output'], 'output named `output`');
  t.same(
    buildOnnxGraph(graph, bound, { logits: true }).graph.outputs.map((o) => o.name),
    ['logits'],
    'named `logits` with logits: true',
  );
});

t.test('folding removes every batch norm that directly follows a conv read by nothing else', async (t) => {
  const count = (model: string, fold: boolean) => {
    const graph = normalizeSpec(ZOO.get(model)!.build({ input: [64, 64, 3] }));
    const bound = randomWeights(inferShapes(graph), 1);
    const ops = buildOnnxGraph(graph, bound, { foldBatchNorm: fold }).graph.nodes.map((n) => n.op);
    return {
      bn: ops.filter((o) => o === 'BatchNormalization').length,
      specBn: graph.nodes.filter((n) => n.kind === 'batchnorm').length,
    };
  };
  const v1 = count('resnet50', true);
  t.equal(v1.bn, 0, 'resnet50 (v1, every BN after its conv): no BatchNormalization left');
  t.equal(count('resnet50', false).bn, v1.specBn, `resnet50 unfolded: all ${v1.specBn} batch norms kept`);
  // v2 pre-activation: each block's preact BN reads the previous add, and post_bn reads an add.
  const v2 = count('resnet50v2', true);
  t.equal(v2.bn, 16 + 1, `resnet50v2: the 16 preact BNs and post_bn stay (of ${v2.specBn})`);
});
