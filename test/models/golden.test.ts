// Whole-model figures from independent sources: Keras Applications' published parameter counts
// (model.summary()), and torchvision's parameter counts and conv+linear MACs (also re-derived by
// scripts/reference/torch_counts.py with PyTorch forward hooks; see torch-hooks.test.ts).
import t from 'tap';
import { analyzeZoo } from '../helpers/analyze.js';

const keras: [string, number, number, number][] = [
  ['resnet50', 25_636_712, 25_583_592, 53_120],
  ['resnet101', 44_707_176, 44_601_832, 105_344],
  ['resnet152', 60_419_944, 60_268_520, 151_424],
  ['resnet50v2', 25_613_800, 25_568_360, 45_440],
  ['inception_v3', 23_851_784, 23_817_352, 34_432],
  ['inception_resnet_v2', 55_873_736, 55_813_192, 60_544],
  ['mobilenet_v2', 3_538_984, 3_504_872, 34_112],
];

for (const [name, total, trainable, nonTrainable] of keras) {
  t.test(`${name} matches Keras' published parameter counts`, async (t) => {
    const { totals } = analyzeZoo(name);
    t.equal(totals.params, total, 'total');
    t.equal(totals.trainableParams, trainable, 'trainable');
    t.equal(totals.nonTrainableParams, nonTrainable, 'non-trainable (BN moving statistics)');
  });
}

const torchvision: [string, number, number][] = [
  ['resnet18', 11_689_512, 1_814_073_344],
  ['resnet34', 21_797_672, 3_663_761_408],
  ['resnet50_tv', 25_557_032, 4_089_184_256],
  ['resnet101_tv', 44_549_160, 7_801_405_440],
  ['resnet152_tv', 60_192_808, 11_513_626_624],
  ['googlenet_tv', 6_624_904, 1_498_376_192],
];

/** torchvision publishes these MACs rounded ("GFLOPS" 0.30, 0.06, 0.39); exact figures: torch-hooks.test.ts. */
const torchvisionRounded: [string, number, number][] = [
  ['mobilenet_v2_tv', 3_504_872, 0.3],
  ['mobilenet_v3_small_tv', 2_542_856, 0.06],
  ['efficientnet_b0_tv', 5_288_548, 0.39],
];

for (const [name, params, gmacs] of torchvisionRounded) {
  t.test(`${name} matches torchvision's parameters and its rounded GMACs`, async (t) => {
    const { totals } = analyzeZoo(name);
    t.equal(totals.trainableParams, params, 'torchvision parameters = our trainable parameters');
    t.equal(Math.round(totals.macs / 1e7) / 100, gmacs, 'conv + linear GMACs to two decimals');
  });
}

for (const [name, params, macs] of torchvision) {
  t.test(`${name} matches torchvision's parameters and MACs`, async (t) => {
    const { totals } = analyzeZoo(name);
    t.equal(totals.trainableParams, params, 'torchvision parameters = our trainable parameters');
    t.equal(totals.macs, macs, 'conv + linear MACs');
    t.equal(totals.flops, 2 * macs, 'FLOPs are 2·MACs');
  });
}

t.test('Inception output shapes at the published stages', async (t) => {
  const v3 = new Map(analyzeZoo('inception_v3').layers.map((r) => [r.name, r.outputShape]));
  t.same(v3.get('mixed2'), [35, 35, 288]);
  t.same(v3.get('mixed7'), [17, 17, 768]);
  t.same(v3.get('mixed10'), [8, 8, 2048]);
  const irv2 = new Map(analyzeZoo('inception_resnet_v2').layers.map((r) => [r.name, r.outputShape]));
  t.same(irv2.get('mixed_5b'), [35, 35, 320]);
  t.same(irv2.get('mixed_6a'), [17, 17, 1088]);
  t.same(irv2.get('mixed_7a'), [8, 8, 2080]);
  t.same(irv2.get('conv_7b'), [8, 8, 1536]);
});

t.test('include_top=false drops the head, as Keras does', async (t) => {
  const { totals, output } = analyzeZoo('resnet50', { includeTop: false });
  t.equal(totals.params, 23_587_712, 'Keras ResNet50(include_top=False) parameters');
  t.same(output, [7, 7, 2048]);
});

t.test('classes and input size are honoured', async (t) => {
  const r = analyzeZoo('resnet18', { input: [64, 64, 3], classes: 10 });
  t.same(r.output, [10]);
  t.equal(r.layers.find((l) => l.name === 'layer4_1_out')!.outputShape.join('x'), '2x2x512');
});

t.test('plain nets differ from their residual twins only by the shortcuts', async (t) => {
  for (const [plain, res] of [
    ['plain18', 'resnet18'],
    ['plain34', 'resnet34'],
  ]) {
    const p = analyzeZoo(plain);
    const r = analyzeZoo(res);
    const shortcutMacs = r.blocks.residual.reduce((s, b) => s + b.shortcutMacs, 0);
    const shortcutParams = r.blocks.residual.reduce((s, b) => s + b.shortcutParams, 0);
    t.equal(p.totals.macs, r.totals.macs - shortcutMacs, `${plain} MACs = ${res} MACs − shortcut MACs`);
    t.equal(
      p.totals.params,
      r.totals.params - shortcutParams,
      `${plain} params = ${res} params − shortcut params`,
    );
    t.equal(p.blocks.residual.length, 0);
  }
});

t.test('the bottleneck report sees through ResNet v2 explicit padding', async (t) => {
  const v1 = analyzeZoo('resnet50').bottlenecks;
  const v2 = analyzeZoo('resnet50v2').bottlenecks;
  t.equal(v2.length, v1.length, 'every reducing 1x1 → 3x3 pair, as in v1');
  t.ok(v2.every((b) => b.macsWith < b.macsWithout));
  const first = v2.find((b) => b.conv === 'conv3_block1_2_conv')!;
  // 1x1 256→128 at 28x28 then 3x3 128→128 at 28x28; without: 3x3 straight from 256 channels.
  t.equal(first.macsWithout, 28 * 28 * 128 * 9 * 256);
  t.equal(first.macsWith, 28 * 28 * 128 * 256 + 28 * 28 * 128 * 9 * 128);
});
