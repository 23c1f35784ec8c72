// Numeric parity of the ONNX Runtime engine with an independent implementation: the PyTorch
// fixtures of test/engines/tfjs/parity.test.ts (torchvision modules, random weights and BN statistics,
// made by scripts/reference/torch_parity.py). Same specs, same strict binding of the torchvision
// state_dict, but run through buildOnnxModel + OnnxEngine, with BN folding on (the default) and off.
// Tolerance: 1e-4 relative to the largest output magnitude (float32 accumulation-order noise).
import t, { type Test } from 'tap';
import { inferShapes } from '../../src/spec/shapes.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { ArchitectureSpec } from '../../src/spec/types.js';
import { bindWeights } from '../../src/weights/bind.js';
import { readFixtureTensors } from '../helpers/engine.js';
import { relativeError, runOnnx } from '../helpers/onnx.js';
import { PARITY_CASES } from '../helpers/parity-cases.js';

const TOL = 1e-4;

async function check(t: Test, spec: ArchitectureSpec, name: string, logits = false) {
  const graph = normalizeSpec(spec);
  const { bound, keyStyle } = bindWeights(
    inferShapes(graph),
    readFixtureTensors(`torch/parity/${name}.safetensors`),
  );
  t.equal(keyStyle, 'torchvision', 'torchvision state_dict keys detected');
  const io = readFixtureTensors(`torch/parity/${name}.io.safetensors`);
  const input = io.get('input')!;
  const expected = io.get('output')!;
  for (const foldBatchNorm of [true, false]) {
    const out = await runOnnx(graph, bound, input, { logits, foldBatchNorm });
    t.same(out.shape, expected.shape, `output shape ${JSON.stringify(expected.shape)}`);
    const err = relativeError(out.data, expected.data);
    t.ok(
      err < TOL,
      `${name} (BN ${foldBatchNorm ? 'folded' : 'kept'}): max |onnx − torch| / max|torch| = ${err.toExponential(2)} < ${TOL}`,
    );
  }
}

for (const c of PARITY_CASES) {
  t.test(`${c.title} gives PyTorch's output`, async (t) => {
    await check(t, c.spec(), c.name, c.logits);
  });
}
