// Whole torchvision networks with the new kinds (depthwise convs, squeeze-and-excitation multiply,
// hard-swish, hard-sigmoid, SiLU, global pooling with keepdims) computed by both engines from our
// zoo specs, with weights bound by their torchvision keys, against PyTorch's own logits
// (scripts/reference/torch_seeded_parity.py; weights and input regenerated from seeds, see
// test/helpers/seeded.ts). Tolerance: 1e-4 relative to the largest |logit|.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../models/index.js';
import { TfjsExecutor } from '../../src/engines/tfjs/executor.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { bindWeights } from '../../src/weights/bind.js';
import { backendReady } from '../helpers/engine.js';
import { relativeError, runOnnx } from '../helpers/onnx.js';
import { readSeededFixture, seededInput, seededStateDict } from '../helpers/seeded.js';

const TOL = 1e-4;
const CASES: [zoo: string, torch: string][] = [
  ['mobilenet_v2_tv', 'mobilenet_v2'],
  ['mobilenet_v3_small_tv', 'mobilenet_v3_small'],
  ['efficientnet_b0_tv', 'efficientnet_b0'],
];

t.before(async () => {
  await backendReady();
});

for (const [zoo, torch] of CASES) {
  t.test(`${zoo}: tfjs and ONNX Runtime give PyTorch's logits`, async (t) => {
    const { fixture, output } = readSeededFixture(torch);
    const graph = normalizeSpec(ZOO.get(zoo)!.build());
    const { bound, keyStyle } = bindWeights(inferShapes(graph), seededStateDict(fixture));
    t.equal(keyStyle, 'torchvision', 'bound by torchvision state_dict keys');
    const input = seededInput(fixture);

    const before = tf.memory().numTensors;
    const model = TfjsExecutor.create(graph, bound, { logits: true });
    const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    const y = model.predict(x);
    const tfjs = (await y.data()) as Float32Array;
    tf.dispose([x, y]);
    model.dispose();
    t.equal(tf.memory().numTensors, before, 'no tfjs tensors left behind');
    t.same(y.shape, output.shape, `output ${JSON.stringify(output.shape)}`);
    const tfjsErr = relativeError(tfjs, output.data);
    t.ok(tfjsErr < TOL, `tfjs: max |tfjs − torch| / max|torch| = ${tfjsErr.toExponential(2)} < ${TOL}`);

    const onnx = await runOnnx(graph, bound, input, { logits: true });
    const onnxErr = relativeError(onnx.data, output.data);
    t.ok(
      onnxErr < TOL,
      `ONNX Runtime: max |onnx − torch| / max|torch| = ${onnxErr.toExponential(2)} < ${TOL}`,
    );

    // The two images must differ, or a network that ignored its input would pass.
    const n = output.data.length / 2;
    t.ok(
      relativeError(output.data.subarray(0, n), output.data.subarray(n)) > 100 * TOL,
      'the two images give different logits',
    );
  });
}
