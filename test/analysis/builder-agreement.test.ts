// One source of truth, an independent interpreter: for every built-in model, the analyzer and
// TensorFlow.js' own Keras implementation (tfjs-layers building the Keras topology we export for
// the model) agree on every layer's output shape and parameter count. tfjs' `outputShape` and
// `countParams()` are the independent side. Helper layers the exporter adds (`<name>_pad`,
// `<name>_scale`) carry no weights of their own and are left out; a one-input merge has no layer.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../models/index.js';
import { analyzeGraph } from '../../src/analysis/analyze.js';
import { tfjsModelJsonFromGraph } from '../../src/interop/keras/export.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { backendReady } from '../helpers/engine.js';

t.before(async () => {
  await backendReady();
});

/** Zero initialisers: tfjs-layers allocates every weight, and random ones only cost time here. */
function zeroInitialisers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(zeroInitialisers);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k.endsWith('_initializer') ? { class_name: 'Zeros', config: {} } : zeroInitialisers(v),
    ]),
  );
}

for (const entry of ZOO.values()) {
  t.test(`${entry.name}: tfjs-layers and the analyzer agree layer by layer`, async (t) => {
    const graph = normalizeSpec(entry.build());
    const report = analyzeGraph(graph);
    const exported = tfjsModelJsonFromGraph(graph);
    const model = await tf.models.modelFromJSON(
      zeroInitialisers(exported.modelTopology) as tf.io.ModelJSON['modelTopology'] as never,
    );
    const names = new Set(model.layers.map((l) => l.name));
    let mismatches = 0;
    let compared = 0;
    for (const row of report.layers) {
      if (!names.has(row.name)) {
        t.ok(
          ['concat', 'add', 'multiply'].includes(row.kind) && row.inputs.length === 1,
          `${row.name}: only one-input merges have no tfjs layer`,
        );
        continue;
      }
      const layer = model.getLayer(row.name);
      const tfShape = (layer.outputShape as number[]).slice(1);
      compared++;
      if (JSON.stringify(tfShape) !== JSON.stringify(row.outputShape) || layer.countParams() !== row.params) {
        mismatches++;
        t.fail(
          `${row.name}: tfjs ${JSON.stringify(tfShape)} / ${layer.countParams()} params, analyzer ${JSON.stringify(row.outputShape)} / ${row.params}`,
        );
      }
    }
    t.equal(mismatches, 0, `${compared} layers agree`);
    t.equal(model.countParams(), report.totals.params, 'whole-model parameter count');
    t.same((model.outputs[0].shape as number[]).slice(1), report.output, 'output shape');
    model.dispose();
  });
}
