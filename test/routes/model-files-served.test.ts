// Serving a model from its own files, with no architecture named: a Keras 2 full-model H5 (the
// topology in its model_config attribute; test/fixtures/served-files/keras-h5, written with h5py by
// scripts/reference/keras_full_model_h5.py, which also computes the expected logits with NumPy), and
// a TensorFlow.js converter folder (model.json with its weight manifest and shards, here written by
// our exporter from the default fashion-resnet's trained weights) that classifies exactly as the
// model it came from.
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ZOO } from '../../models/index.js';
import { analyzeGraph } from '../../src/analysis/analyze.js';
import { tfjsArtifacts } from '../../src/interop/keras/export.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import { inferShapes } from '../../src/spec/shapes.js';
import { bindWeights } from '../../src/weights/bind.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import { servingApp } from '../helpers/app.js';
import { fixture } from '../helpers/engine.js';
import { relativeError } from '../helpers/onnx.js';

const repoModels = new URL('../../models/', import.meta.url);
const dir = mkdtempSync(path.join(tmpdir(), 'model-files-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

// keras-h5: copied as committed.
mkdirSync(path.join(dir, 'keras-h5'));
for (const f of ['model.h5', 'config.json'])
  copyFileSync(fixture(`served-files/keras-h5/${f}`), path.join(dir, 'keras-h5', f));

// tfjs-folder: the trained fashion-resnet written as a tfjs layers-model folder.
const graph = normalizeSpec(ZOO.get('fashion_resnet')!.build());
const { bound } = bindWeights(
  inferShapes(graph),
  readSafetensors(new Uint8Array(readFileSync(new URL('fashion-resnet/weights.safetensors', repoModels)))),
);
const { modelJson, shards } = tfjsArtifacts(graph, bound);
mkdirSync(path.join(dir, 'tfjs-folder'));
writeFileSync(path.join(dir, 'tfjs-folder', 'model.json'), JSON.stringify(modelJson));
for (const s of shards) writeFileSync(path.join(dir, 'tfjs-folder', s.path), s.data);
copyFileSync(new URL('fashion-resnet/labels.txt', repoModels), path.join(dir, 'tfjs-folder', 'labels.txt'));
const fashionConfig = JSON.parse(readFileSync(new URL('fashion-resnet/config.json', repoModels), 'utf8'));
writeFileSync(
  path.join(dir, 'tfjs-folder', 'config.json'),
  JSON.stringify({
    weights: 'model.json',
    labels: 'labels.txt',
    preprocess: fashionConfig.preprocess,
    topk: 3,
  }),
);

for (const engine of ['onnxruntime', 'tfjs'] as const) {
  t.test(`${engine}: a Keras H5 and a tfjs folder serve as they are`, async (t) => {
    const app = await servingApp({ modelsDir: dir, engine, workers: 1 });
    t.teardown(() => app.close());

    const h5 = (await app.inject('/models/keras-h5')).json();
    t.equal(h5.state, 'ready', h5.error ?? 'ready');
    t.equal(h5.source, 'keras-h5');
    t.equal(h5.weights.format, 'keras-h5');
    const expected = readSafetensors(
      new Uint8Array(readFileSync(fixture('served-files/keras-h5/expected.safetensors'))),
    );
    const input = expected.get('input')!;
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/keras-h5/infer',
      payload: {
        inputs: [{ name: 'input', shape: input.shape, datatype: 'FP32', data: Array.from(input.data) }],
      },
    });
    t.equal(res.statusCode, 200, res.body.slice(0, 160));
    const out = (name: string) =>
      Float32Array.from(res.json().outputs.find((o: { name: string }) => o.name === name).data as number[]);
    const logitsErr = relativeError(out('logits'), expected.get('logits')!.data);
    t.ok(logitsErr < 1e-4, `logits = NumPy's (${logitsErr.toExponential(2)})`);
    t.ok(
      relativeError(out('probabilities'), expected.get('probabilities')!.data) < 1e-4,
      "probabilities = NumPy's softmax",
    );

    const folder = (await app.inject('/models/tfjs-folder')).json();
    t.equal(folder.state, 'ready', folder.error ?? 'ready');
    t.equal(folder.source, 'tfjs-layers-model');
    t.equal(
      folder.params,
      analyzeGraph(graph).totals.params,
      "fashion_resnet's parameters, read from the folder's topology",
    );
    const image = readFileSync(fixture('fashion/0_9.png'));
    const classify = await app.inject({
      method: 'POST',
      url: '/classify?model=tfjs-folder',
      headers: { 'content-type': 'image/png' },
      payload: image,
    });
    t.equal(classify.statusCode, 200, classify.body.slice(0, 160));
    t.equal(
      classify.json().results[0].predictions[0].label,
      'Ankle boot',
      "the folder's own labels, and the trained model's answer",
    );
  });
}
