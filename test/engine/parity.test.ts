// Numeric parity with an independent implementation: PyTorch (torchvision's own modules) with fixed
// random weights and randomised BN statistics, made by scripts/reference/torch_parity.py. We build
// the same blocks from specs, load the torchvision state_dict keys through the strict binder (which
// converts OIHW → HWIO), run them on the tfjs backend and compare outputs.
// Tolerance: 1e-4 relative to the largest output magnitude (float32 accumulation-order noise).
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../models/index.js';
import { applyWeights } from '../../src/graph/apply-weights.js';
import { buildTfjsModel } from '../../src/graph/tfjs-builder.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { ArchitectureSpec } from '../../src/spec/types.js';
import { bindWeights } from '../../src/weights/bind.js';
import { backendReady, maxAbs, maxAbsDiff, predict, readFixtureTensors } from '../helpers/engine.js';
import { PARITY_CASES } from '../helpers/parity-cases.js';

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

t.before(async () => {
  await backendReady();
});

for (const c of PARITY_CASES) {
  t.test(`${c.title} gives PyTorch's output`, async (t) => {
    await check(t, c.spec(), c.name, c.logits);
  });
}

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
