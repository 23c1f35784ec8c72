// Both engines' profilers map every node they time to a spec layer, or to the documented
// `unattributed` bucket (the input's layout transpose and ONNX Runtime's own NCHWc reorders), on
// real zoo models: fashion-resnet with its weights and torchvision's EfficientNet-B0 at a small input
// (ORT renames fused SiLU nodes `/QuickGeluFusion/`), and a pre-activation batch norm (ORT turns a batch
// norm it cannot fold into a `_bn` conv). Times are only checked to be finite and positive.
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { analyzeGraph } from '../../../src/analysis/analyze.js';
import { profileReport, UNATTRIBUTED, type LayerTimings } from '../../../src/analysis/profile.js';
import { layerOfOrtNode, timingsFromTrace } from '../../../src/engines/profile/onnxruntime.js';
import { PROFILERS } from '../../../src/engines/profile/index.js';
import { readModelWeights } from '../../../src/interop/model-files.js';
import { graphFor } from '../../../src/services/analysis.js';
import type { Graph } from '../../../src/spec/types.js';
import { normalizeSpec } from '../../../src/spec/normalize.js';
import { inferShapes } from '../../../src/spec/shapes.js';
import { bindWeights } from '../../../src/weights/bind.js';
import { randomWeights } from '../../../src/weights/random.js';
import { backendReady } from '../../helpers/engine.js';

/** Engine nodes that belong to no spec layer, by design (docs/analysis.md#measured-time-per-layer). */
const DOCUMENTED_BUCKET = /^(input_nchw|ReorderInput(_token_\d+)?|ReorderOutput(_token_\d+)?)$/;

function checkMapped(t: Test, graph: Graph, timings: LayerTimings, runs: number) {
  const layers = new Set(graph.nodes.map((n) => n.name));
  t.equal(timings.runs.length, runs, `${runs} measured runs (the warm-up is left out)`);
  for (const run of timings.runs) {
    const strays = Object.keys(run).filter((k) => k !== UNATTRIBUTED && !layers.has(k));
    t.same(strays, [], 'every timed key is a spec layer');
    t.ok(Object.values(run).every((ms) => Number.isFinite(ms) && ms >= 0));
  }
  t.same(
    timings.unattributedNodes.filter((n) => !DOCUMENTED_BUCKET.test(n)),
    [],
    `no node outside the documented bucket is unattributed (${timings.unattributedNodes.length} in it)`,
  );
  const report = profileReport(graph, analyzeGraph(graph).layers, timings);
  const convs = report.rows.filter((r) => r.kind === 'conv2d');
  t.ok(convs.length > 0 && convs.every((r) => r.medianMs > 0), 'every conv row has a time');
}

const options = { runs: 2, batch: 1, onnxThreads: 1 };

t.test('fashion-resnet with its weights: every node maps on both engines', async (t) => {
  await backendReady();
  const graph = graphFor({ model: 'fashion_resnet' });
  const file = await readModelWeights(
    new URL('../../../models/fashion-resnet/weights.safetensors', import.meta.url).pathname,
  );
  const { bound } = bindWeights(inferShapes(graph), file.tensors);
  const ort = await PROFILERS.onnxruntime(graph, bound, options);
  checkMapped(t, graph, ort, 2);
  t.ok(ort.unattributedNodes.includes('input_nchw'));
  const before = tf.memory().numTensors;
  const tfjs = await PROFILERS.tfjs(graph, bound, options);
  t.equal(tf.memory().numTensors, before, 'the tfjs profile leaves no tensor behind');
  checkMapped(t, graph, tfjs, 2);
  t.same(tfjs.unattributedNodes, [], 'tfjs times spec layers only');
  t.same(
    Object.keys(tfjs.runs[0]).filter((k) => k.endsWith('_relu') || k.endsWith('_bn')),
    [],
    'batch norms are folded and ReLUs after convs fused: timed with their conv',
  );
});

t.test('efficientnet_b0_tv at 32x32: every ONNX Runtime node maps', async (t) => {
  const graph = graphFor({ model: 'efficientnet_b0_tv', input: [32, 32, 3] });
  const timings = await PROFILERS.onnxruntime(graph, randomWeights(inferShapes(graph), 1), options);
  checkMapped(t, graph, timings, 2);
});

t.test('a pre-activation batch norm (not folded) maps on ONNX Runtime', async (t) => {
  // The batch norm reads an add of two convs, as in ResNet v2: ORT runs it in its NCHWc layout as a
  // conv named `preact_bn_bn_nchwc` (with the ReLU fused in).
  const graph = normalizeSpec({
    name: 'preact',
    input: [16, 16, 16],
    layers: [
      {
        kind: 'residual',
        name: 'block',
        addName: 'add',
        body: [{ kind: 'conv2d', name: 'conv', filters: 16, kernel: 3, padding: 'same' }],
        shortcut: { layers: [{ kind: 'conv2d', name: 'short', filters: 16, kernel: 1 }] },
      },
      { kind: 'batchnorm', name: 'preact_bn' },
      { kind: 'activation', name: 'preact_relu', function: 'relu' },
      { kind: 'conv2d', name: 'out_conv', filters: 16, kernel: 3, padding: 'same' },
    ],
  } as never);
  const timings = await PROFILERS.onnxruntime(graph, randomWeights(inferShapes(graph), 1), options);
  checkMapped(t, graph, timings, 2);
  t.ok(
    timings.runs.every((run) => run.preact_bn > 0),
    'the batch norm has a time of its own',
  );
});

t.test("ONNX Runtime's renamed nodes map back through the emitter's table", async (t) => {
  const layerOf = new Map([
    ['conv1_relu', 'conv1_relu'],
    ['features_0_2', 'features_0_2'],
    ['block_preact_bn', 'block_preact_bn'],
    ['pool_nchw', 'pool'],
  ]);
  t.equal(layerOfOrtNode('conv1_relu_nchwc', layerOf), 'conv1_relu');
  t.equal(layerOfOrtNode('features_0_2/QuickGeluFusion/', layerOf), 'features_0_2');
  t.equal(layerOfOrtNode('block_preact_bn_bn_nchwc', layerOf), 'block_preact_bn');
  t.equal(layerOfOrtNode('pool_nchw', layerOf), 'pool', "a layer's helper node is the layer's");
  t.equal(layerOfOrtNode('ReorderOutput_token_3', layerOf), undefined);
  t.equal(layerOfOrtNode('input_nchw', layerOf), undefined);
});

t.test('a trace splits into runs by model_run, the first (warm-up) left out', async (t) => {
  const node = (name: string, ts: number, dur: number) => ({
    cat: 'Node',
    name: `${name}_kernel_time`,
    ts,
    dur,
  });
  const run = (ts: number, dur: number) => ({ cat: 'Session', name: 'model_run', ts, dur });
  const layerOf = new Map([['conv', 'conv']]);
  const timed = timingsFromTrace(
    [
      run(0, 100),
      node('conv', 10, 90),
      run(200, 50),
      node('conv', 210, 30),
      node('ReorderOutput', 245, 4),
      run(300, 60),
      node('conv', 310, 40),
    ],
    layerOf,
  );
  t.same(timed.runs, [{ conv: 0.03, [UNATTRIBUTED]: 0.004 }, { conv: 0.04 }]);
  t.same(timed.runMs, [0.05, 0.06]);
  t.same(timed.unattributedNodes, ['ReorderOutput']);
});
