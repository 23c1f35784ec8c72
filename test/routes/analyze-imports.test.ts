// POST /analyze accepts the models people already have: a Keras model.to_json() config or a tfjs
// layers-model model.json, posted as they are, alone or in a comparison. Unknown layer classes are
// a 422 that lists them, never a silent zero.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const app = await buildApp(testConfig());
t.teardown(() => app.close());
const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/keras-configs/${name}`, import.meta.url), 'utf8');

t.test('a Keras config and a tfjs model.json analyse like the same spec would', async (t) => {
  for (const [file, params, macs] of [
    ['mnist_cnn.sequential.keras2.json', 34_826, 2_440_960],
    ['mnist_cnn.tfjs-layers.model.json', 34_826, 2_440_960],
    ['small_resnet.keras3.json', 20_330, 2_208_064],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/analyze',
      headers: { 'content-type': 'application/json' },
      payload: fixture(file),
    });
    t.equal(res.statusCode, 200, file);
    t.equal(res.json().totals.params, params, `${file} params`);
    t.equal(res.json().totals.macs, macs, `${file} MACs`);
  }
});

t.test('unknown layer classes are a 422 listing each of them', async (t) => {
  const config = JSON.parse(fixture('small_resnet.keras2.json'));
  const layers = config.config.layers;
  layers[2].class_name = 'LayerNormalization';
  layers[3].class_name = 'Conv3D';
  const res = await app.inject({ method: 'POST', url: '/analyze', payload: config });
  t.equal(res.statusCode, 422);
  t.match(res.json().message, /LayerNormalization/);
  t.match(res.json().message, /Conv3D/);
});

t.test('a Keras model can be compared with a built-in architecture', async (t) => {
  const res = await app.inject({
    method: 'POST',
    url: '/analyze',
    payload: { compare: [{ model: 'seed_5x5' }, JSON.parse(fixture('small_inception.keras2.json'))] },
  });
  t.equal(res.statusCode, 200);
  t.equal(res.json().comparison.totals.macs.a, 120_422_400);
  t.equal(res.json().comparison.totals.macs.b, 2_335_280);
});

t.test(
  'GET /architectures/{name}/model.json exports a topology that analyses back to the same totals',
  async (t) => {
    const res = await app.inject('/architectures/resnet50/model.json');
    t.equal(res.statusCode, 200);
    const back = await app.inject({ method: 'POST', url: '/analyze', payload: res.json() });
    t.equal(back.json().totals.params, 25_636_712);
    t.equal(
      back.json().totals.macs,
      (await app.inject({ method: 'POST', url: '/analyze', payload: { model: 'resnet50' } })).json().totals
        .macs,
    );
    const irv2 = await app.inject('/architectures/inception_resnet_v2/model.json');
    t.equal(irv2.statusCode, 200, 'scaled adds are written as Rescaling + Add');
    const irv2Back = await app.inject({ method: 'POST', url: '/analyze', payload: irv2.json() });
    t.equal(
      irv2Back.json().totals.params,
      55_873_736,
      "Keras' published InceptionResNetV2 parameters after the round trip",
    );
    t.equal((await app.inject('/architectures/nope/model.json')).statusCode, 404);
  },
);
