// One source of truth, two interpreters: for every built-in model, the tfjs graph built from the
// spec and the analyzer agree on every layer's output shape and parameter count. tfjs' own
// `outputShape` and `countParams()` are the independent side (except the two custom layers,
// PaddedPool2D and ScaledAdd, which have no weights).
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../models/index.js';
import { elements } from '../../src/analysis/rules.js';
import { buildTfjsModel } from '../../src/graph/tfjs-builder.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { backendReady } from '../helpers/engine.js';

t.before(async () => {
  await backendReady();
});

for (const entry of ZOO.values()) {
  t.test(`${entry.name}: tfjs graph and analyzer agree layer by layer`, async (t) => {
    const built = buildTfjsModel(normalizeSpec(entry.build()));
    let mismatches = 0;
    let compared = 0;
    for (const { node, outputShape, weights } of built.shaped.nodes) {
      // A one-branch concat is the branch itself: no tfjs layer of its own.
      if (node.kind === 'concat' && node.inputs.length === 1) continue;
      const layer = built.model.getLayer(node.name);
      const tfShape = (layer.outputShape as number[]).slice(1);
      const params = weights.reduce((s, w) => s + elements(w.shape), 0);
      compared++;
      if (JSON.stringify(tfShape) !== JSON.stringify(outputShape) || layer.countParams() !== params) {
        mismatches++;
        t.fail(`${node.name}: tfjs ${JSON.stringify(tfShape)} / ${layer.countParams()} params, analyzer ${JSON.stringify(outputShape)} / ${params}`);
      }
    }
    t.equal(mismatches, 0, `${compared} layers agree`);
    t.equal(built.model.countParams(), built.shaped.nodes.reduce((s, n) => s + n.weights.reduce((a, w) => a + elements(w.shape), 0), 0), 'whole-model parameter count');
    built.model.dispose();
  });
}

t.test('building and disposing leaves no tensors behind', async (t) => {
  const before = tf.memory().numTensors;
  buildTfjsModel(normalizeSpec(ZOO.get('fashion_inception')!.build())).model.dispose();
  t.equal(tf.memory().numTensors, before);
});
