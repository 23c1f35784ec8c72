// Numeric parity with an independent implementation: PyTorch (torchvision's own modules) with fixed
// random weights and randomised BN statistics, made by scripts/reference/torch_parity.py. We build
// the same blocks from specs, load the torchvision state_dict keys through the strict binder (which
// converts OIHW → HWIO), run them on the tfjs backend and compare outputs.
// Tolerance: 1e-4 relative to the largest output magnitude (float32 accumulation-order noise).
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../../models/index.js';
import { TfjsExecutor } from '../../../src/engines/tfjs/executor.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import type { ArchitectureSpec } from '../../../src/spec/types.js';
import { bindWeights } from '../../../src/weights/bind.js';
import { backendReady, maxAbs, maxAbsDiff, predict, readFixtureTensors } from '../../helpers/engine.js';
import { randomWeights } from '../../../bench/lib/random.js';
import { PARITY_CASES } from '../../helpers/parity-cases.js';

const TOL = 1e-4;

async function check(t: Test, spec: ArchitectureSpec, name: string, logits = false) {
  const graph = normalizeSpec(spec);
  const { bound, keyStyle } = bindWeights(
    inferShapes(graph),
    readFixtureTensors(`torch/parity/${name}.safetensors`),
  );
  t.equal(keyStyle, 'torchvision', 'torchvision state_dict keys detected');
  const io = readFixtureTensors(`torch/parity/${name}.io.safetensors`);
  const expected = io.get('output')!.data;
  for (const options of [{ foldBatchNorm: false, fuseActivations: false }, {}]) {
    const model = TfjsExecutor.create(graph, bound, { logits, ...options });
    const out = await predict(model, io.get('input')!);
    model.dispose();
    const err = maxAbsDiff(out, expected) / maxAbs(expected);
    t.ok(
      err < TOL,
      `${name} ${JSON.stringify(options)}: max |tfjs − torch| / max|torch| = ${err.toExponential(2)} < ${TOL}`,
    );
  }
}

t.before(async () => {
  await backendReady();
});

for (const c of PARITY_CASES) {
  t.test(`${c.title} gives PyTorch's output`, async (t) => {
    await check(t, c.spec(), c.name, c.logits);
  });
}

t.test('no tensors leak across 1,000 inferences, and dispose frees every weight', async (t) => {
  const start = tf.memory().numTensors;
  const graph = normalizeSpec(ZOO.get('seed_5x5_bottleneck')!.build({ input: [8, 8, 192] }));
  const model = TfjsExecutor.create(graph, randomWeights(inferShapes(graph), 3));
  const x = tf.randomNormal([1, 8, 8, 192]) as tf.Tensor4D;
  await predict(model, { shape: x.shape, data: x.dataSync() as Float32Array });
  const before = tf.memory().numTensors;
  for (let i = 0; i < 1000; i++) {
    const y = model.predict(x);
    await y.data();
    y.dispose();
  }
  t.equal(tf.memory().numTensors, before, 'numTensors unchanged');
  x.dispose();
  model.dispose();
  t.equal(tf.memory().numTensors, start, 'nothing left after dispose');
});
