// Numeric parity with an independent implementation: PyTorch (torchvision's own modules) with fixed
// random weights and randomised BN statistics, made by scripts/reference/torch_parity.py. We build
// the same blocks from specs, load the torchvision state_dict keys through the strict binder (which
// converts OIHW → HWIO), run them on the tfjs backend and compare outputs.
// Tolerance: 1e-4 relative to the largest output magnitude (float32 accumulation-order noise).
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../models/index.js';
import { bn, branches, conv, maxPool, relu, residual } from '../../models/layers.js';
import { applyWeights } from '../../src/graph/apply-weights.js';
import { buildTfjsModel } from '../../src/graph/tfjs-builder.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { ArchitectureSpec, NodeSpec } from '../../src/spec/types.js';
import { bindWeights } from '../../src/weights/bind.js';
import { backendReady, maxAbs, maxAbsDiff, predict, readFixtureTensors } from '../helpers/engine.js';

const TOL = 1e-4;

async function check(t: Test, spec: ArchitectureSpec, name: string, logits = false) {
  const built = buildTfjsModel(normalizeSpec(spec), { logits });
  const { bound, keyStyle } = bindWeights(built.shaped, readFixtureTensors(`torch/parity/${name}.safetensors`));
  t.equal(keyStyle, 'torchvision', 'torchvision state_dict keys detected');
  applyWeights(built.model, bound);
  const io = readFixtureTensors(`torch/parity/${name}.io.safetensors`);
  const out = await predict(built.model, io.get('input')!);
  const expected = io.get('output')!.data;
  const err = maxAbsDiff(out, expected) / maxAbs(expected);
  t.ok(err < TOL, `${name}: max |tfjs − torch| / max|torch| = ${err.toExponential(2)} < ${TOL}`);
  built.model.dispose();
}

const cbr = (c: string, b: string, filters: number, k: number, stride = 1): NodeSpec[] => [
  conv(c, filters, k, { strides: stride, padding: (k - 1) / 2, bias: false }),
  bn(b, 1e-5),
];

t.before(async () => {
  await backendReady();
});

t.test('identity block (torchvision BasicBlock 16→16)', async (t) => {
  await check(t, {
    input: [8, 8, 16],
    layers: [residual('block', {
      body: [...cbr('conv1', 'bn1', 16, 3), relu('relu1'), ...cbr('conv2', 'bn2', 16, 3)],
      post: [relu('out')],
    })],
  }, 'identity_block');
});

t.test('downsample block (torchvision Bottleneck, stride 2 on the 3x3, projection)', async (t) => {
  await check(t, {
    input: [8, 8, 32],
    layers: [residual('block', {
      body: [...cbr('conv1', 'bn1', 16, 1), relu('relu1'), ...cbr('conv2', 'bn2', 16, 3, 2), relu('relu2'), ...cbr('conv3', 'bn3', 64, 1)],
      shortcut: { layers: cbr('downsample_0', 'downsample_1', 64, 1, 2) },
      post: [relu('out')],
    })],
  }, 'downsample_block');
});

t.test('inception module (torchvision Inception(192, 64, 96, 128, 16, 32, 32))', async (t) => {
  const unit = (p: string, filters: number, k: number): NodeSpec[] => [
    conv(`${p}_conv`, filters, k, { padding: (k - 1) / 2, bias: false }), bn(`${p}_bn`, 1e-3), relu(`${p}_relu`),
  ];
  await check(t, {
    input: [8, 8, 192],
    layers: [branches('inception', [
      { name: 'branch1', layers: unit('branch1', 64, 1) },
      { name: 'branch2', layers: [...unit('branch2_0', 96, 1), ...unit('branch2_1', 128, 3)] },
      { name: 'branch3', layers: [...unit('branch3_0', 16, 1), ...unit('branch3_1', 32, 3)] },
      { name: 'branch4', layers: [maxPool('branch4_0', 3, 1, 1, { ceilMode: true }), ...unit('branch4_1', 32, 1)] },
    ])],
  }, 'inception_module');
});

t.test('whole torchvision resnet18 (random weights) gives the same logits', async (t) => {
  await check(t, ZOO.get('resnet18')!.build(), 'resnet18', true);
});

t.test('no tensors leak across 1,000 inferences', async (t) => {
  const built = buildTfjsModel(normalizeSpec(ZOO.get('seed_5x5_bottleneck')!.build({ input: [8, 8, 192] })));
  const x = tf.randomNormal([1, 8, 8, 192]);
  await predict(built.model, { shape: x.shape, data: x.dataSync() as Float32Array });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) {
    const y = built.model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  }
  t.equal(tf.memory().numTensors, before, 'numTensors unchanged');
  x.dispose();
  built.model.dispose();
});
