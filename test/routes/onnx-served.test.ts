// Serving ONNX files as they are: seven torchvision models exported by PyTorch (test/fixtures/onnx,
// made by scripts/reference/torch_onnx_exports.py), each filled with the seeded weights PyTorch
// computed with, in a MODELS_DIR folder whose config.json names only the file. Both engines build
// from the topology the file holds, bind the file's own weights, and answer KServe v2 infer with
// PyTorch's logits (1e-4 relative); /models and /analyze describe what is served.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withInitializers } from '../../src/interop/onnx/read.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { servingApp } from '../helpers/app.js';
import { fixture } from '../helpers/engine.js';
import { relativeError } from '../helpers/onnx.js';
import { seededInput, seededStateDict, type SeededFixture } from '../helpers/seeded.js';

const MODELS = [
  'resnet18',
  'resnet50',
  'googlenet',
  'inception_v3',
  'mobilenet_v2',
  'mobilenet_v3_small',
  'efficientnet_b0',
];
const TOL = 1e-4;

interface Counts extends SeededFixture {
  params: number;
  buffers: number;
  macs: number;
}
const counts = (name: string) =>
  JSON.parse(readFileSync(fixture(`onnx/${name}.counts.json`), 'utf8')) as Counts;

const dir = mkdtempSync(path.join(tmpdir(), 'onnx-served-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
for (const name of MODELS) {
  const c = counts(name);
  const weights = new Map([...seededStateDict(c)].map(([k, v]) => [k, { dims: v.shape, data: v.data }]));
  mkdirSync(path.join(dir, name));
  writeFileSync(
    path.join(dir, name, 'model.onnx'),
    withInitializers(new Uint8Array(readFileSync(fixture(`onnx/${name}.graph.onnx`))), weights),
  );
  writeFileSync(path.join(dir, name, 'config.json'), JSON.stringify({ weights: 'model.onnx' }));
}

/**
 * tfjs on wasm serves every file too, but the two largest (resnet50 and inception_v3, 4 and 6 GMACs,
 * three quarters of this test's tfjs time) are left to ONNX Runtime here: their layer kinds are the
 * ones resnet18 and googlenet exercise on tfjs, and CI has a time limit.
 */
const ON_TFJS = new Set(['resnet18', 'googlenet', 'mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0']);

for (const engine of ['onnxruntime', 'tfjs'] as const) {
  const models = engine === 'tfjs' ? MODELS.filter((m) => ON_TFJS.has(m)) : MODELS;
  t.test(`${engine}: ${models.length} ONNX files serve PyTorch's logits`, async (t) => {
    const app = await servingApp({ modelsDir: dir, engine, workers: 1, onlyModels: models });
    t.teardown(() => app.close());
    for (const name of models) {
      const c = counts(name);
      const meta = (await app.inject(`/models/${name}`)).json();
      t.equal(meta.state, 'ready', `${name}: ready${meta.error ? ` (${meta.error})` : ''}`);
      t.equal(meta.source, 'onnx', `${name}: the topology came from the file`);
      t.equal(meta.engine, engine);
      t.equal(meta.weights.format, 'onnx');
      const input = seededInput(c);
      const res = await app.inject({
        method: 'POST',
        url: `/v2/models/${name}/infer`,
        payload: {
          inputs: [{ name: 'input', shape: input.shape, datatype: 'FP32', data: Array.from(input.data) }],
          outputs: [{ name: 'logits' }],
        },
      });
      t.equal(res.statusCode, 200, `${name}: infer ${res.body.slice(0, 120)}`);
      const logits = Float32Array.from(res.json().outputs[0].data as number[]);
      const expected = readSafetensors(
        new Uint8Array(readFileSync(fixture(`onnx/${name}.output.safetensors`))),
      ).get('output')!;
      const err = relativeError(logits, expected.data);
      t.ok(err < TOL, `${name}: max |served − torch| / max|torch| = ${err.toExponential(2)} < ${TOL}`);
    }
    // The analysis of a served model is the analysis of what is served.
    const analysis = await app.inject({
      method: 'POST',
      url: '/analyze',
      payload: { model: 'mobilenet_v3_small' },
    });
    t.equal(analysis.statusCode, 200);
    const c = counts('mobilenet_v3_small');
    t.equal(
      analysis.json().totals.trainableParams,
      c.params,
      "/analyze of a served ONNX model: PyTorch's parameters",
    );
    t.equal(analysis.json().totals.macs, c.macs, 'and its MACs');
    const withOptions = await app.inject({
      method: 'POST',
      url: '/analyze',
      payload: { model: 'mobilenet_v3_small', classes: 10 },
    });
    t.equal(withOptions.statusCode, 400, 'a served model is analysed as served: options are refused');
  });
}
