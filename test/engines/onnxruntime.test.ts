// OnnxEngine's contract: a symbolic batch (one session serves any batch size, each row computed
// independently), thread options accepted, wrong input sizes refused before reaching the runtime,
// and no runs after dispose.
import t from 'tap';
import { conv, dense, flatten } from '../../models/layers.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { buildOnnxModel } from '../../src/interop/onnx/emit.js';
import { OnnxEngine } from '../../src/engines/onnxruntime.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { relativeError } from '../helpers/onnx.js';
import { randomInput, randomWeights } from '../../bench/lib/random.js';

const graph = normalizeSpec({
  input: [6, 6, 2],
  layers: [conv('c', 3, 3), flatten('f'), dense('fc', 4, 'softmax')],
});
const model = buildOnnxModel(graph, randomWeights(inferShapes(graph), 3), { logits: true });

t.test('one session serves batches of any size; rows do not depend on their batch', async (t) => {
  const engine = await OnnxEngine.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  t.equal(engine.inputName, 'input');
  t.equal(engine.outputName, 'logits');
  const x = randomInput([3, 6, 6, 2], 4);
  const all = await engine.run(x.data, x.shape);
  t.same(all.shape, [3, 4]);
  t.ok(all.data instanceof Float32Array, 'float32 output');
  const one = await engine.run(x.data.subarray(72, 144), [1, 6, 6, 2]);
  t.same(one.shape, [1, 4]);
  // Kernels may block a batch differently, so allow float32 rounding noise.
  t.ok(relativeError(one.data, all.data.subarray(4, 8)) < 1e-6, 'row 2 alone equals row 2 of the batch');
  await engine.dispose();
});

t.test('an input whose length does not match its shape is refused', async (t) => {
  const engine = await OnnxEngine.create(model);
  await t.rejects(engine.run(new Float32Array(10), [1, 6, 6, 2]), {
    name: 'RangeError',
    message: /10 values, shape \[1, 6, 6, 2\] needs 72/,
  });
  await engine.dispose();
});

t.test('a disposed engine cannot run', async (t) => {
  const engine = await OnnxEngine.create(model);
  await engine.dispose();
  const x = randomInput([1, 6, 6, 2], 5);
  await t.rejects(engine.run(x.data, x.shape));
});
