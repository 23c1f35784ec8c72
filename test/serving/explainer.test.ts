// The explanation queues: one explanation batch computes at a time whatever its model (so plain
// requests keep the other workers), each model's queue is bounded (503 QUEUE_FULL beyond it), and
// each answer row becomes that image's class and map.
import t from 'tap';
import type { InferencePool } from '../../src/engines/pool.js';
import { ExplainService } from '../../src/serving/explainer.js';
import { resolveExplainRequest } from '../../src/serving/explain-options.js';
import type { ReadyModel } from '../../src/serving/registry.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { Graph } from '../../src/spec/types.js';

const graph = normalizeSpec({
  name: 'tiny',
  input: [4, 4, 1],
  layers: [
    { kind: 'conv2d', name: 'conv', filters: 2, kernel: 3, padding: 'same' },
    { kind: 'globalavgpool', name: 'pool' },
    { kind: 'dense', name: 'predictions', units: 3 },
  ],
} as never) as Graph;
const model = (name: string) =>
  ({
    name,
    engineName: name,
    engine: 'onnxruntime',
    graph,
    input: [4, 4, 1],
    classes: 3,
  }) as unknown as ReadyModel;

/** A pool whose explain answers after `ms`, class 2 and a map of 0.5s, counting overlapping calls. */
function fakePool(ms: number) {
  let running = 0;
  const seen = { most: 0, calls: [] as string[] };
  const pool = {
    async explain(key: string, _input: Float32Array, n: number) {
      seen.calls.push(key);
      seen.most = Math.max(seen.most, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      const out = new Float32Array(n * 17).fill(0.5);
      for (let i = 0; i < n; i++) out[i * 17] = 2;
      return out;
    },
  } as unknown as InferencePool;
  return { pool, seen };
}

const settings = { maxBatch: 4, maxDelayMs: 0, queueLimit: 2, timeoutMs: 5000 };
const image = () => new Float32Array(16);

t.test('one batch computes at a time across models, and rows become classes and maps', async (t) => {
  const { pool, seen } = fakePool(20);
  const service = new ExplainService(pool, settings);
  const [a, b] = [model('a'), model('b')];
  const request = resolveExplainRequest({ explain: 'gradcam' }, service.layers(a), 3, {
    explain: 'explain',
    explainLayer: 'explainLayer',
    explainClass: 'explainClass',
  });
  if (!request) throw new Error('no request');
  const answers = await Promise.all([
    service.explain(a, [image()], request),
    service.explain(b, [image(), image()], request),
  ]);
  t.equal(seen.most, 1, 'never two batches at once');
  t.same(seen.calls.sort(), ['a@onnxruntime', 'b@onnxruntime']);
  t.match(answers[1].maps[1], { classIndex: 2, height: 4, width: 4 });
  t.same(answers[1].maps[1].data, new Array(16).fill(0.5));
});

t.test("a model's explanation queue is bounded: beyond it, 503 QUEUE_FULL", async (t) => {
  const { pool } = fakePool(50);
  const service = new ExplainService(pool, settings);
  const m = model('a');
  const request = resolveExplainRequest({ explain: true }, service.layers(m), 3, {
    explain: 'explain',
    explainLayer: 'explainLayer',
    explainClass: 'explainClass',
  });
  if (!request) throw new Error('no request');
  const first = service.explain(m, [image(), image()], request); // computing at once
  const second = service.explain(m, [image(), image()], request); // waits: the queue is full
  await t.rejects(service.explain(m, [image()], request), { statusCode: 503, code: 'QUEUE_FULL' });
  await Promise.all([first, second]);
});
