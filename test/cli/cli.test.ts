// The command-line tool, run as a user runs it: analyze (table, --json, a Keras model.json),
// classify without a server, and export (tfjs topology; ONNX with weights, checked against PyTorch).
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { ZOO } from '../../models/index.js';
import { OnnxEngine } from '../../src/engines/onnxruntime.js';
import { TfjsExecutor } from '../../src/engines/tfjs/executor.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { bindWeights } from '../../src/weights/bind.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { backendReady, fixture, maxAbs, maxAbsDiff, readFixtureTensors } from '../helpers/engine.js';
import { SERVED_FIXTURES } from '../helpers/app.js';

const run = promisify(execFile);
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', CLI, ...args], { maxBuffer: 64 * 1024 * 1024 });
const dir = mkdtempSync(path.join(tmpdir(), 'cli-'));
t.before(async () => {
  await backendReady();
});

t.test('analyze prints a torchinfo-like table with totals and the bottleneck report', async (t) => {
  const { stdout } = await cli('analyze', 'seed_5x5_bottleneck');
  t.match(stdout, /Total params: 15,920/);
  t.match(stdout, /Total MACs: 12,443,648/);
  t.match(
    stdout,
    /conv5x5 ← reduce1x1\s+28x28x192\s+16\s+120,422,400\s+2,408,448 \+ 10,035,200 = 12,443,648/,
  );
  const json = JSON.parse((await cli('analyze', 'resnet50', '--json')).stdout);
  t.equal(json.totals.params, 25_636_712);
  const custom = JSON.parse(
    (await cli('analyze', 'resnet18', '--input', '64,64,3', '--classes', '10', '--json')).stdout,
  );
  t.same(custom.input, [64, 64, 3]);
  t.same(custom.output, [10]);
  const keras = JSON.parse(
    (await cli('analyze', fixture('keras-configs/mnist_cnn.tfjs-layers.model.json').pathname, '--json'))
      .stdout,
  );
  t.equal(keras.totals.params, 34_826, 'a tfjs model.json is analysed like a spec');
  const training = await cli('analyze', 'resnet18', '--training', 'momentum', '--batch', '2');
  t.match(training.stdout, /Training step \(batch 2, momentum\): weights 44\.63 MB \+ gradients 44\.59 MB/);
  t.match(training.stdout, /MACs per step: forward 3,628,146,688 \+ input gradients 3,392,118,784/);
  await t.rejects(
    cli('analyze', 'resnet18', '--training', 'lbfgs'),
    /--training: expected one of sgd, momentum, adam/,
  );
  await t.rejects(
    cli('analyze', 'resnet5'),
    /Did you mean "resnet50".*Available: /,
    'an unknown name fails with the closest names and the list',
  );
});

t.test('analyze reads ONNX files and Keras files with open sizes, at the --input given', async (t) => {
  const onnx = JSON.parse(
    (await cli('analyze', fixture('onnx/mobilenet_v2.graph.onnx').pathname, '--json')).stdout,
  );
  t.equal(onnx.totals.trainableParams, 3_504_872, "torchvision's MobileNetV2 parameters");
  const small = JSON.parse(
    (await cli('analyze', fixture('onnx/mobilenet_v2.graph.onnx').pathname, '--input', '112,112,3', '--json'))
      .stdout,
  );
  t.same(small.input, [112, 112, 3]);
  const open = path.join(dir, 'open.json');
  const model = {
    class_name: 'Functional',
    config: {
      name: 'open',
      layers: [
        {
          class_name: 'InputLayer',
          config: { batch_input_shape: [null, null, null, 3], name: 'x' },
          name: 'x',
          inbound_nodes: [],
        },
        {
          class_name: 'Conv2D',
          config: { name: 'c', filters: 4, kernel_size: [3, 3], padding: 'same' },
          name: 'c',
          inbound_nodes: [[['x', 0, 0, {}]]],
        },
      ],
      input_layers: [['x', 0, 0]],
      output_layers: [['c', 0, 0]],
    },
  };
  writeFileSync(open, JSON.stringify(JSON.stringify(model))); // saved as JSON text, as json.dump(model.to_json()) does
  await t.rejects(cli('analyze', open), /--input H,W,C/, 'refused without a size, naming the flag');
  const sized = JSON.parse((await cli('analyze', open, '--input', '32,32,3', '--json')).stdout);
  t.equal(sized.layers[0].macs, 32 * 32 * 4 * 3 * 9, 'analysed at the --input size');
});

t.test('classify works without a server', async (t) => {
  const image = path.join(dir, 'grey.png');
  await sharp({ create: { width: 12, height: 12, channels: 3, background: '#777777' } })
    .png()
    .toFile(image);
  const { stdout } = await cli(
    'classify',
    image,
    '--models-dir',
    SERVED_FIXTURES,
    '--model',
    'small-h5',
    '--json',
  );
  const body = JSON.parse(stdout);
  t.equal(body.model, 'small-h5');
  t.equal(body.results[0].predictions.length, 3);
  t.equal(body.results[0].file, image, 'each result names the image it is for');
});

t.test('classify --overlay without --explain is refused before any model loads', async (t) => {
  // --explain itself runs end to end in docs/cli.md's runnable example (test/docs/examples.test.ts).
  const image = fixture('fashion/0_9.png').pathname;
  const refused = await cli('classify', image, '--overlay', path.join(dir, 'overlay.png')).catch(
    (err: { stderr: string }) => err,
  );
  t.match(refused, { stderr: /--overlay: expected --explain/ });
});

t.test('profile prints measured time per layer, and bounds --runs', async (t) => {
  // ONNX Runtime only: tfjs' profiler is run by test/engines/profile and through the route.
  const { stdout } = await cli('profile', 'fashion_resnet', '--engine', 'onnxruntime', '--runs', '2');
  t.match(stdout, /fashion_resnet on onnxruntime: median of 2 runs, batch 1/);
  t.match(stdout, /method: onnxruntime session profiling/);
  // conv1's row holds its folded batch norm and fused ReLU, with its MACs (28·28·32·1·9 = 225,792).
  t.match(stdout, /conv1_conv \(conv2d\) +[0-9.]+ +[0-9.]+% +225,792 +[0-9.]+ +conv1_bn, conv1_relu/);
  t.match(stdout, /Unattributed engine nodes: input_nchw/);
  t.match(stdout, /\(seeded random weights\)/);
  await t.rejects(
    cli('profile', 'fashion_resnet', '--runs', '101'),
    /--runs: expected at most 100; received 101/,
  );
});

t.test('usage on stdout when asked for, on stderr with exit 2 for an unknown command', async (t) => {
  for (const args of [[], ['--help']]) {
    const { stdout, stderr } = await cli(...args);
    t.match(stdout, /^usage:/, `${args.join(' ') || 'no arguments'}: usage on stdout`);
    t.equal(stderr, '');
  }
  const wrong = await cli('analyse').catch((err: { code: number; stdout: string; stderr: string }) => err);
  t.match(wrong, { code: 2, stdout: '', stderr: /^usage:/ });
});

t.test('a reader that stops early ends the output quietly', async (t) => {
  // `| head -1`: the pipe closes after the first line; EPIPE must not surface as a crash.
  const { stdout, stderr } = await run('bash', [
    '-o',
    'pipefail',
    '-c',
    `${process.execPath} --import tsx ${CLI} analyze resnet152 --json | head -1`,
  ]);
  t.equal(stdout.split('\n').filter(Boolean).length, 1);
  t.notMatch(stderr, /EPIPE|Error/);
});

t.test(
  'export: ONNX with torchvision weights reproduces PyTorch; tfjs topology lists every weight',
  async (t) => {
    const onnxFile = path.join(dir, 'resnet18.onnx');
    await cli(
      'export',
      'resnet18',
      '--format',
      'onnx',
      '--weights',
      fixture('torch/parity/resnet18.safetensors').pathname,
      '--out',
      onnxFile,
    );
    const engine = await OnnxEngine.create(new Uint8Array(readFileSync(onnxFile)));
    const io = readFixtureTensors('torch/parity/resnet18.io.safetensors');
    const probs = (await engine.run(io.get('input')!.data, io.get('input')!.shape)).data;
    await engine.dispose();
    // The export keeps the classifier as defined (no softmax on torchvision's fc): logits.
    const expected = io.get('output')!.data;
    t.ok(
      maxAbsDiff(probs, expected) / maxAbs(expected) < 1e-4,
      'ONNX Runtime on the exported file matches PyTorch',
    );
    const tfjsFile = path.join(dir, 'resnet50.json');
    await cli('export', 'resnet50', '--format', 'tfjs', '--out', tfjsFile);
    const modelJson = JSON.parse(readFileSync(tfjsFile, 'utf8'));
    t.equal(modelJson.format, 'layers-model');
    const weights = modelJson.weightsManifest[0].weights as { name: string; shape: number[] }[];
    t.equal(
      weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0),
      25_636_712,
      'the manifest accounts for every parameter',
    );
  },
);

t.test(
  'export --format tfjs --weights writes model.json and shards that tf.loadLayersModel reads, into a new folder',
  async (t) => {
    const out = path.join(dir, 'new', 'nested', 'fashion-tfjs');
    const { stdout } = await cli(
      'export',
      'fashion_resnet',
      '--format',
      'tfjs',
      '--weights',
      new URL('../../models/fashion-resnet/weights.safetensors', import.meta.url).pathname,
      '--out',
      out,
    );
    t.match(stdout, /model\.json/);
    const doc = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8'));
    t.same(doc.weightsManifest[0].paths, ['group1-shard1of1.bin'], 'the manifest names its shard');
    const shards = doc.weightsManifest[0].paths.map((p: string) => readFileSync(path.join(out, p)));
    const weightData = Buffer.concat(shards);
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: doc.modelTopology,
        weightSpecs: doc.weightsManifest[0].weights,
        weightData: weightData.buffer.slice(
          weightData.byteOffset,
          weightData.byteOffset + weightData.byteLength,
        ),
      }),
    );
    const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
    const { bound } = bindWeights(
      inferShapes(graph),
      readSafetensors(
        new Uint8Array(
          readFileSync(new URL('../../models/fashion-resnet/weights.safetensors', import.meta.url)),
        ),
      ),
    );
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const ours = TfjsExecutor.create(graph, bound);
    const expected = await ours.predict(x).data();
    const got = await (model.predict(x) as tf.Tensor).data();
    t.ok(
      maxAbsDiff(got, expected) / maxAbs(expected) < 1e-5,
      'tfjs-layers on the exported folder computes what the executor computes',
    );
    ours.dispose();
    model.dispose();
    x.dispose();
  },
);
