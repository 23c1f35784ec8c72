// config.json's checks: an inline architecture spec is checked against the spec's schema (compiled
// only when a config holds one), and its errors name the field under architecture.spec.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readModelConfig } from '../../src/serving/model-config.js';

async function configIn(t: Test, config: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'model-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

const SPEC = {
  name: 'tiny',
  input: [8, 8, 1],
  layers: [{ kind: 'conv2d', filters: 2, kernel: 3 }],
};

t.test('an inline spec that fits the schema is accepted as written', async (t) => {
  const dir = await configIn(t, { architecture: { spec: SPEC }, weights: 'w.safetensors' });
  const config = await readModelConfig(dir);
  t.same(config.architecture, { spec: SPEC });
});

t.test('an inline spec that does not fit names the field under architecture.spec', async (t) => {
  const bad = { ...SPEC, layers: [{ kind: 'conv2d', filters: 'two', kernel: 3 }] };
  const dir = await configIn(t, { architecture: { spec: bad }, weights: 'w.safetensors' });
  await t.rejects(readModelConfig(dir), {
    name: 'ModelConfigError',
    message: /^config\.json\.architecture\.spec\.layers\.0\.filters: .*received "two"/,
  });
});

t.test('the rest of config.json is checked before the spec', async (t) => {
  const dir = await configIn(t, { architecture: { spec: SPEC }, weights: 'w.safetensors', topk: 0 });
  await t.rejects(readModelConfig(dir), { message: /^config\.json\.topk: .*received 0/ });
});
