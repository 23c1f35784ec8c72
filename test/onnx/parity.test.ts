// Numeric parity of the ONNX Runtime engine with an independent implementation: the PyTorch
// fixtures of test/engine/parity.test.ts (torchvision modules, random weights and BN statistics,
// made by scripts/reference/torch_parity.py). Same specs, same strict binding of the torchvision
// state_dict, but run through buildOnnxModel + OnnxEngine, with BN folding on (the default) and off.
// Tolerance: 1e-4 relative to the largest output magnitude (float32 accumulation-order noise).
import t, { type Test } from 'tap';
import { ZOO } from '../../models/index.js';
import { bn, branches, conv, maxPool, relu, residual } from '../../models/layers.js';
import { inferShapes } from '../../src/analysis/shapes.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { ArchitectureSpec, NodeSpec } from '../../src/spec/types.js';
import { bindWeights } from '../../src/weights/bind.js';
import { readFixtureTensors } from '../helpers/engine.js';
import { relativeError, runOnnx } from '../helpers/onnx.js';

const TOL = 1e-4;

async function check(t: Test, spec: ArchitectureSpec, name: string, logits = false) {
  const graph = normalizeSpec(spec);
  const { bound, keyStyle } = bindWeights(inferShapes(graph), readFixtureTensors(`torch/parity/${name}.safetensors`));
  t.equal(keyStyle, 'torchvision', 'torchvision state_dict keys detected');
  const io = readFixtureTensors(`torch/parity/${name}.io.safetensors`);
  const input = io.get('input')!;
  const expected = io.get('output')!;
  for (const foldBatchNorm of [true, false]) {
    const out = await runOnnx(graph, bound, input, { logits, foldBatchNorm });
    t.same(out.shape, expected.shape, `output shape ${JSON.stringify(expected.shape)}`);
    const err = relativeError(out.data, expected.data);
    t.ok(err < TOL, `${name} (BN ${foldBatchNorm ? 'folded' : 'kept'}): max |onnx − torch| / max|torch| = ${err.toExponential(2)} < ${TOL}`);
  }
}

const cbr = (c: string, b: string, filters: number, k: number, stride = 1): NodeSpec[] => [
  conv(c, filters, k, { strides: stride, padding: (k - 1) / 2, bias: false }),
  bn(b, 1e-5),
];

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

t.test('inception module (torchvision Inception(192, 64, 96, 128, 16, 32, 32), ceil-mode pool)', async (t) => {
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
