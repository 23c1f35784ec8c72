// The tfjs executor with its inference rewrites (BN folded into convs, activations fused) computes
// what its plainest form computes (every layer run as written), on every zoo architecture at a
// small input, and matches PyTorch on the parity fixtures.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../../models/index.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import { TfjsExecutor } from '../../../src/engines/tfjs/executor.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import { bindWeights } from '../../../src/weights/bind.js';
import { backendReady, maxAbs, maxAbsDiff, readFixtureTensors } from '../../helpers/engine.js';
import { runTfjs } from '../../helpers/onnx.js';
import { randomInput, randomWeights } from '../../../bench/lib/random.js';

t.before(async () => {
  await backendReady();
});

async function runFused(
  model: TfjsExecutor,
  input: { shape: number[]; data: Float32Array },
): Promise<Float32Array> {
  const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  const y = model.predict(x);
  const data = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return data;
}

const SMALL: Record<string, [number, number, number]> = {
  resnet50: [64, 64, 3],
  resnet50v2: [64, 64, 3],
  resnet18: [64, 64, 3],
  inception_v3: [75, 75, 3],
  inception_resnet_v2: [75, 75, 3],
  googlenet: [64, 64, 3],
  googlenet_tv: [64, 64, 3],
  plain18: [64, 64, 3],
  fashion_resnet: [28, 28, 1],
  fashion_inception: [28, 28, 1],
  inception_3a: [12, 12, 192],
  seed_5x5_bottleneck: [12, 12, 192],
  mobilenet_v2: [64, 64, 3],
  efficientnet_b0_tv: [64, 64, 3],
};

for (const [name, input] of Object.entries(SMALL)) {
  t.test(`${name}: rewritten executor = plain executor (logits and probabilities)`, async (t) => {
    const graph = normalizeSpec(ZOO.get(name)!.build({ input, classes: 10 }));
    const bound = randomWeights(inferShapes(graph), 7);
    const x = randomInput([2, ...input], 8);
    for (const logits of [true, false]) {
      const reference = await runTfjs(graph, bound, x, logits);
      for (const options of [{}, { foldBatchNorm: false }, { fuseActivations: false }]) {
        const fused = TfjsExecutor.create(graph, bound, { logits, ...options });
        const got = await runFused(fused, x);
        fused.dispose();
        const err = maxAbsDiff(got, reference) / maxAbs(reference);
        t.ok(
          err < 1e-4,
          `${logits ? 'logits' : 'outputs'} ${JSON.stringify(options)}: relative error ${err.toExponential(2)}`,
        );
      }
    }
  });
}

t.test('fused resnet18 matches PyTorch (torchvision keys, random weights)', async (t) => {
  const graph = normalizeSpec(ZOO.get('resnet18')!.build());
  const { bound } = bindWeights(inferShapes(graph), readFixtureTensors('torch/parity/resnet18.safetensors'));
  const io = readFixtureTensors('torch/parity/resnet18.io.safetensors');
  const before = tf.memory().numTensors;
  const model = TfjsExecutor.create(graph, bound, { logits: true });
  const got = await runFused(model, io.get('input')!);
  model.dispose();
  t.equal(tf.memory().numTensors, before, 'no tensors left behind');
  const expected = io.get('output')!.data;
  t.ok(maxAbsDiff(got, expected) / maxAbs(expected) < 1e-4);
});
