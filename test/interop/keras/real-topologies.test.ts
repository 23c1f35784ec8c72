// Ten real Keras / tfjs topologies that other people published (../shared/real-topologies), with
// counts computed independently of this project: every file analyses exactly (totals, output
// shape, and every conv/depthwise/dense layer's output shape, parameters and MACs), and the
// trainable split is the one Keras' model.summary() prints (frozen layers honoured).
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { analyzeTarget } from '../../../src/services/analysis.js';
import { cliInput, readRealCases, realTopologiesDir } from '../../helpers/real-topologies.js';

const dir = realTopologiesDir();
if (!dir) {
  t.comment(
    '../shared/real-topologies is not on this machine (set REAL_TOPOLOGIES); the corpus tests are skipped',
  );
  t.pass('no corpus here');
} else {
  const cases = readRealCases(dir);
  t.equal(cases.length, 10, 'ten files in the corpus');
  for (const c of cases) {
    t.test(`${c.file} (${c.format})`, async (t) => {
      const body = JSON.parse(readFileSync(path.join(dir, c.file), 'utf8')) as Record<string, unknown>;
      const input = cliInput(c);
      const report = analyzeTarget(input ? { ...body, input } : body);
      t.equal(report.totals.params, c.expected.params, 'parameters');
      t.equal(report.totals.macs, c.expected.macs, 'MACs');
      t.same(report.output, c.expected.output, 'output shape');
      const split = c.kerasSummary ?? c.expected;
      t.equal(
        report.totals.trainableParams,
        split.trainableParams,
        "trainable parameters as Keras' summary prints them",
      );
      t.equal(report.totals.nonTrainableParams, split.nonTrainableParams, 'non-trainable parameters');
      // Nested layers keep their own names; the corpus names them by path (`resnet50/conv1_conv`),
      // which is the nested models at the head of our blockPath, then the name. (Some Keras names
      // hold a slash themselves: DenseNet's `conv1/conv`.)
      const rows = new Map(report.layers.map((r) => [r.name, r]));
      const wrong = c.weightLayers.filter((w) => {
        const parts = rows.has(w.name) ? [w.name] : w.name.split('/');
        const r = rows.get(parts[parts.length - 1]);
        return (
          !r ||
          JSON.stringify([r.blockPath.slice(0, parts.length - 1), r.outputShape, r.params, r.macs]) !==
            JSON.stringify([parts.slice(0, -1), w.outputShape, w.params, w.macs])
        );
      });
      t.same(
        wrong.map((w) => w.name),
        [],
        `all ${c.weightLayers.length} conv, depthwise and dense layers: shape, parameters and MACs`,
      );
    });
  }

  t.test('a model saved with open sizes is refused until the size is given, naming how', async (t) => {
    const c = cases.find((x) => cliInput(x))!;
    const body = JSON.parse(readFileSync(path.join(dir, c.file), 'utf8'));
    t.throws(() => analyzeTarget(body), {
      code: 'UNSUPPORTED_INPUT_SHAPE',
      message: /"input": \[height, width, channels\]\) or with --input H,W,C/,
    });
  });
}
