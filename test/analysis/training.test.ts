// Training costs against an independent reference: PyTorch's own autograd, whose saved tensors,
// gradients and optimizer state scripts/reference/torch_training.py measured on torchvision models
// (batch 2, train mode) into test/fixtures/torch/training.json. Then the rules on small networks:
// MACs per step, frozen layers, a tensor kept by two layers, and the request over HTTP.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { ZOO } from '../../models/index.js';
import { analyzeGraph } from '../../src/analysis/analyze.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { graphFromKerasConfig } from '../../src/interop/keras/import.js';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import type { ArchitectureSpec } from '../../src/spec/types.js';

interface TorchFigures {
  params: number;
  bnBuffers: number;
  gradientBytes: number;
  optimizers: Record<'sgd' | 'momentum' | 'adam', { stateBytes: { total: number } }>;
  saved: { savedBytes: number; byModuleType: Record<string, number> };
}
const reference = JSON.parse(
  readFileSync(new URL('../fixtures/torch/training.json', import.meta.url), 'utf8'),
) as { batch: number; models: Record<string, TorchFigures> };

const ZOO_NAME: Record<string, string> = {
  resnet18: 'resnet18',
  resnet50: 'resnet50_tv',
  mobilenet_v2: 'mobilenet_v2_tv',
  googlenet: 'googlenet_tv',
  efficientnet_b0: 'efficientnet_b0_tv',
};

const zooGraph = (name: string) => {
  const entry = ZOO.get(name);
  if (!entry) throw new Error(`no zoo model ${name}`);
  return normalizeSpec(entry.build());
};

t.test('weights, gradients, optimizer state and saved activations equal what PyTorch keeps', async (t) => {
  t.equal(Object.keys(reference.models).length, 5);
  for (const [torchName, torch] of Object.entries(reference.models)) {
    const ours = ZOO_NAME[torchName];
    for (const optimizer of ['sgd', 'momentum', 'adam'] as const) {
      const report = analyzeGraph(zooGraph(ours), { training: { batch: reference.batch, optimizer } });
      const bytes = report.training?.bytes;
      t.equal(
        bytes?.optimizerState,
        torch.optimizers[optimizer].stateBytes.total,
        `${ours} ${optimizer} state`,
      );
      if (optimizer !== 'adam') continue;
      // PyTorch's parameters plus its float buffers (the moving statistics) are our parameters.
      t.equal(bytes?.weights, 4 * (torch.params + torch.bnBuffers), `${ours} weights`);
      t.equal(bytes?.gradients, torch.gradientBytes, `${ours} gradients`);
      // The one difference: torchvision's EfficientNet trains with stochastic depth, whose [N,1,1,1]
      // noise per block autograd keeps; at inference (and in our spec) the layer is the identity.
      const stochasticDepth = torch.saved.byModuleType.StochasticDepth ?? 0;
      t.equal(
        (bytes?.savedActivations ?? 0) + stochasticDepth,
        torch.saved.savedBytes,
        `${ours} saved activations (+ ${stochasticDepth} B of stochastic-depth noise)`,
      );
      t.equal(
        bytes?.total,
        (bytes?.weights ?? 0) +
          (bytes?.gradients ?? 0) +
          (bytes?.optimizerState ?? 0) +
          (bytes?.savedActivations ?? 0),
      );
    }
  }
});

t.test('MACs per step: forward, input gradients past the first layer, weight gradients', async (t) => {
  const report = analyzeGraph(zooGraph('resnet18'), { training: { batch: 4, optimizer: 'sgd' } });
  const macs = report.training?.macs;
  const conv1 = report.layers.find((l) => l.name === 'conv1')?.macs ?? 0;
  t.ok(conv1 > 0);
  t.equal(macs?.forward, 4 * report.totals.macs);
  t.equal(macs?.backwardWeights, 4 * report.totals.macs, 'every conv and dense trains');
  t.equal(macs?.backwardInput, 4 * (report.totals.macs - conv1), 'the image needs no gradient');
  t.equal(macs?.step, (macs?.forward ?? 0) + (macs?.backwardInput ?? 0) + (macs?.backwardWeights ?? 0));
  const rows = report.layers.map((l) => l.training);
  t.ok(
    rows.every((r) => r !== undefined),
    'every row carries its share',
  );
  t.equal(
    rows.reduce((s, r) => s + (r?.savedBytes ?? 0), 0),
    report.training?.bytes.savedActivations,
    'the rows add up to the total',
  );
  t.notOk(analyzeGraph(zooGraph('resnet18')).training, 'no training section unless asked');
});

t.test(
  'a frozen layer keeps nothing and computes no gradient; one tensor kept twice counts once',
  async (t) => {
    const keras = {
      class_name: 'Sequential',
      config: {
        name: 'frozen_first',
        layers: [
          { class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 8, 8, 3] } },
          {
            class_name: 'Conv2D',
            config: {
              name: 'frozen',
              filters: 4,
              kernel_size: [3, 3],
              padding: 'same',
              activation: 'relu',
              trainable: false,
            },
          },
          {
            class_name: 'Conv2D',
            config: { name: 'c2', filters: 4, kernel_size: [3, 3], padding: 'same', activation: 'linear' },
          },
          { class_name: 'GlobalAveragePooling2D', config: { name: 'gap' } },
          { class_name: 'Dense', config: { name: 'head', units: 2, activation: 'linear' } },
        ],
      },
    };
    const report = analyzeGraph(graphFromKerasConfig(keras), { training: { batch: 1, optimizer: 'sgd' } });
    const macsOf = (name: string) => report.layers.find((l) => l.name === name)?.macs ?? Number.NaN;
    // c2 keeps the frozen block's output (8·8·4 floats); gap keeps c2's output; head keeps gap's.
    t.equal(report.training?.bytes.savedActivations, 4 * (8 * 8 * 4 + 8 * 8 * 4 + 4));
    t.equal(report.training?.macs.backwardWeights, macsOf('c2') + macsOf('head'));
    t.equal(report.training?.macs.backwardInput, macsOf('head'), 'c2 reads a tensor that needs no gradient');
    t.equal(report.training?.bytes.gradients, 4 * report.totals.trainableParams);

    // Two convs read one relu output: relu keeps it, the convs add nothing.
    const spec: ArchitectureSpec = {
      input: [8, 8, 3],
      layers: [
        { kind: 'conv2d', name: 'stem', filters: 4, kernel: 3, padding: 'same' },
        { kind: 'activation', name: 'relu', function: 'relu' },
        {
          kind: 'branches',
          name: 'two',
          merge: 'concat',
          branches: [
            { layers: [{ kind: 'conv2d', name: 'a', filters: 2, kernel: 1 }] },
            { layers: [{ kind: 'conv2d', name: 'b', filters: 2, kernel: 1 }] },
          ],
        },
      ],
    };
    const shared = analyzeGraph(normalizeSpec(spec), { training: { optimizer: 'sgd' } });
    const saved = Object.fromEntries(shared.layers.map((l) => [l.name, l.training?.savedBytes]));
    t.equal(saved.stem, 8 * 8 * 3 * 4, 'stem keeps the image');
    t.equal(saved.relu, 8 * 8 * 4 * 4, 'relu keeps its output');
    t.equal(saved.a, 0, 'a reads what relu keeps');
    t.equal(saved.b, 0, 'so does b');
  },
);

t.test('over HTTP: the training section, its defaults, and a wrong optimizer named', async (t) => {
  const app = await buildApp(testConfig({ analyzeWorkers: 1 }));
  t.teardown(() => app.close());
  const post = (payload: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/analyze?layers=none', payload });
  const res = await post({ model: 'resnet18', batch: 2, training: { optimizer: 'momentum' } });
  t.equal(res.statusCode, 200);
  t.match(res.json().training, {
    batch: 2,
    optimizer: 'momentum',
    bytes: { gradients: 46_758_048, optimizerState: 46_758_048 },
  });
  t.match(res.json().conventions.training, /PyTorch/);
  const defaults = await post({ model: 'resnet18', training: {} });
  t.match(defaults.json().training, { batch: 1, optimizer: 'adam' });
  const wrong = await post({ model: 'resnet18', training: { optimizer: 'lbfgs' } });
  t.equal(wrong.statusCode, 400);
  t.match(wrong.json().field, /training\.optimizer/);
  t.match(wrong.json().message, /sgd, momentum, adam|sgd.*momentum.*adam/);
});
