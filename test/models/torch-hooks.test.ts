// Per-layer agreement with an independent count: PyTorch forward hooks on torchvision's own models
// (test/fixtures/torch/counts.json, made by scripts/reference/torch_counts.py). Our torchvision-layout
// names are torchvision's module paths with "." → "_", so rows pair up by name.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { analyzeZoo } from '../helpers/analyze.js';

interface TorchRow {
  name: string;
  type: string;
  inputShape: number[];
  outputShape: number[];
  trainable: number;
  buffers: number;
  macs: number;
  call: number;
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/torch/counts.json', import.meta.url), 'utf8'),
) as {
  models: Record<
    string,
    { totals: { trainable: number; macs: number; buffers: number }; layers: TorchRow[] }
  >;
};

const OURS: Record<string, string> = {
  resnet18: 'resnet18',
  resnet34: 'resnet34',
  resnet50: 'resnet50_tv',
  resnet101: 'resnet101_tv',
  resnet152: 'resnet152_tv',
  googlenet: 'googlenet_tv',
  mobilenet_v2: 'mobilenet_v2_tv',
  mobilenet_v3_small: 'mobilenet_v3_small_tv',
  efficientnet_b0: 'efficientnet_b0_tv',
};
/** Layers torchvision computes with a function call, not a module, so hooks cannot see them. */
const FUNCTIONAL: Record<string, string[]> = { mobilenet_v2: ['avgpool'] };
const KIND: Record<string, string> = {
  Conv2d: 'conv2d',
  BatchNorm2d: 'batchnorm',
  MaxPool2d: 'maxpool',
  Linear: 'dense',
  AdaptiveAvgPool2d: 'globalavgpool',
};

for (const [torchName, ourName] of Object.entries(OURS)) {
  t.test(`${ourName}: every conv, BN, pool and linear layer matches PyTorch hooks`, async (t) => {
    const report = analyzeZoo(ourName);
    const ours = new Map(report.layers.map((r) => [r.name, r]));
    const torch = fixture.models[torchName];
    const compared = torch.layers.filter((r) => KIND[r.type]);
    let mismatches = 0;
    for (const row of compared) {
      const mine = ours.get(row.name);
      if (!mine) {
        t.fail(`no layer named ${row.name} in ${ourName}`);
        mismatches++;
        continue;
      }
      // AdaptiveAvgPool2d keeps 1x1; our global pooling keeps it only with keepdims (squeeze-and-excitation).
      const flat = (s: number[]) => (row.type === 'AdaptiveAvgPool2d' ? [s[s.length - 1]] : s);
      const ok =
        mine.kind === KIND[row.type] &&
        JSON.stringify(flat(mine.outputShape)) === JSON.stringify(flat(row.outputShape)) &&
        JSON.stringify(mine.inputShapes[0]) === JSON.stringify(row.inputShape) &&
        mine.trainableParams === row.trainable &&
        mine.nonTrainableParams === row.buffers &&
        mine.macs === row.macs;
      if (!ok) {
        mismatches++;
        t.fail(
          `${row.name}: ours ${JSON.stringify([mine.kind, mine.outputShape, mine.trainableParams, mine.nonTrainableParams, mine.macs])} torch ${JSON.stringify([row.type, row.outputShape, row.trainable, row.buffers, row.macs])}`,
        );
      }
    }
    t.equal(mismatches, 0, `${compared.length} layers compared`);
    const torchNames = new Set(compared.map((r) => r.name));
    const extra = report.layers.filter(
      (r) =>
        ['conv2d', 'batchnorm', 'dense', 'maxpool', 'globalavgpool'].includes(r.kind) &&
        !torchNames.has(r.name),
    );
    t.same(
      extra.map((r) => r.name),
      FUNCTIONAL[torchName] ?? [],
      'no extra weighted or pooling layers on our side (but those torchvision computes functionally)',
    );
    t.equal(report.totals.trainableParams, torch.totals.trainable);
    t.equal(report.totals.nonTrainableParams, torch.totals.buffers);
    t.equal(report.totals.macs, torch.totals.macs);
  });
}
