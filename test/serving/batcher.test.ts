// Dynamic batching, with a fake engine that records each batch: coalescing up to maxBatch, the
// maxDelayMs window measured from the oldest request, results routed back in order, bounded queue,
// deadlines, cancelled clients and draining.
import t from 'tap';
import { Batcher, type QueueFullError, type BatchSettings } from '../../src/serving/batcher.js';
import { batchInput, type PackedBatch } from '../../src/engines/batch-input.js';

const CLASSES = 2;
/** The fake engine answers logits [sum(image), n] per image, so each caller can check it got its own. */
function fakeEngine(delayMs = 0) {
  const batches: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const run = async (batch: PackedBatch) => {
    const { n } = batch;
    const input = batchInput(batch);
    batches.push(n);
    running++;
    maxRunning = Math.max(maxRunning, running);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    running--;
    const out = new Float32Array(n * CLASSES);
    for (let i = 0; i < n; i++) {
      out[i * CLASSES] = input[i * 3] + input[i * 3 + 1] + input[i * 3 + 2];
      out[i * CLASSES + 1] = n;
    }
    return out;
  };
  return { run, batches, maxRunning: () => maxRunning };
}

const settings = (over: Partial<BatchSettings> = {}): BatchSettings => ({
  maxBatch: 8,
  maxDelayMs: 20,
  queueLimit: 100,
  concurrency: 1,
  timeoutMs: 5000,
  ...over,
});
const image = (v: number) => new Float32Array([v, v, v]);

t.test('a full batch leaves at once; each caller gets its own row', async (t) => {
  const engine = fakeEngine();
  const b = new Batcher('m', settings({ maxDelayMs: 10_000 }), engine.run, 3, CLASSES);
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => b.submit([image(i)])));
  t.ok(performance.now() - started < 5000, 'did not wait for the delay window');
  t.same(engine.batches, [8], 'one batch of 8');
  for (const [i, r] of results.entries()) t.equal(r.logits[0][0], 3 * i, `caller ${i} got its own result`);
});

t.test('a partial batch leaves after maxDelayMs from the first arrival', async (t) => {
  const engine = fakeEngine();
  const b = new Batcher('m', settings({ maxDelayMs: 50 }), engine.run, 3, CLASSES);
  const started = performance.now();
  const first = b.submit([image(1)]);
  await new Promise((r) => setTimeout(r, 20));
  const second = b.submit([image(2)]);
  const [r1, r2] = await Promise.all([first, second]);
  const elapsed = performance.now() - started;
  t.same(engine.batches, [2], 'both requests in one batch');
  t.ok(elapsed >= 45, `sent after the window (${elapsed.toFixed(0)} ms)`);
  t.ok(r2.timings.queueMs < r1.timings.queueMs, 'the later request waited less');
});

/** Two announced requests with a long window; the first is submitted and waits for the second. */
function firstOfTwoAnnounced() {
  const engine = fakeEngine();
  const b = new Batcher('m', settings({ maxDelayMs: 10_000 }), engine.run, 3, CLASSES);
  const first = b.expect(1);
  const second = b.expect(1);
  return { engine, b, second, started: performance.now(), p1: b.submit([image(1)], undefined, first) };
}

t.test('announced requests: a batch leaves at once when no other request is on its way', async (t) => {
  const engine = fakeEngine();
  const b = new Batcher('m', settings({ maxDelayMs: 10_000 }), engine.run, 3, CLASSES);
  const started = performance.now();
  const r = await b.submit([image(1)], undefined, b.expect(1));
  t.ok(performance.now() - started < 5000, 'did not wait for the window');
  t.same(engine.batches, [1]);
  t.equal(r.logits[0][0], 3);
});

t.test('announced requests: a batch waits for one still decoding, then leaves with it', async (t) => {
  const { engine, b, second, started, p1 } = firstOfTwoAnnounced();
  await new Promise((r) => setTimeout(r, 30));
  t.same(engine.batches, [], 'the first request waits: the second is on its way');
  const p2 = b.submit([image(2)], undefined, second);
  const [r1, r2] = await Promise.all([p1, p2]);
  t.same(engine.batches, [2], 'one batch of both');
  t.ok(performance.now() - started < 5000, 'and it left when the second arrived, not after the window');
  t.same([r1.logits[0][0], r2.logits[0][0]], [3, 6]);
});

t.test(
  'announced requests: a cancelled announcement (decode failed) releases the waiting batch',
  async (t) => {
    const { engine, second: failing, started, p1 } = firstOfTwoAnnounced();
    setTimeout(() => failing.cancel(), 20);
    await p1;
    t.ok(performance.now() - started < 5000, 'left once nothing was on its way');
    t.same(engine.batches, [1]);
  },
);

t.test(
  'announced requests: one refused (draining, already aborted) releases the waiting batch',
  async (t) => {
    for (const refuse of ['draining', 'aborted'] as const) {
      const { engine, b, second, started, p1 } = firstOfTwoAnnounced();
      await new Promise((r) => setTimeout(r, 20));
      if (refuse === 'draining') b.close();
      const controller = new AbortController();
      if (refuse === 'aborted') controller.abort();
      await t.rejects(b.submit([image(2)], controller.signal, second), {
        statusCode: refuse === 'draining' ? 503 : 499,
      } as never);
      await p1;
      t.ok(
        performance.now() - started < 5000,
        `${refuse}: the first request left without waiting out the window`,
      );
      t.same(engine.batches, [1]);
    }
  },
);

t.test('announced requests: maxDelayMs still bounds the wait', async (t) => {
  const engine = fakeEngine();
  const b = new Batcher('m', settings({ maxDelayMs: 50 }), engine.run, 3, CLASSES);
  const first = b.expect(1);
  b.expect(1); // never arrives
  const started = performance.now();
  await b.submit([image(1)], undefined, first);
  const elapsed = performance.now() - started;
  t.ok(elapsed >= 45, `sent after the window (${elapsed.toFixed(0)} ms)`);
  t.same(engine.batches, [1]);
});

t.test('an unannounced request keeps the full window (a later one may still join)', async (t) => {
  const engine = fakeEngine();
  const b = new Batcher('m', settings({ maxDelayMs: 50 }), engine.run, 3, CLASSES);
  const started = performance.now();
  await b.submit([image(1)], undefined, undefined);
  t.ok(performance.now() - started >= 45, 'waited for the window');
});

t.test('a request larger than maxBatch is split and reassembled in order', async (t) => {
  const engine = fakeEngine();
  const b = new Batcher(
    'm',
    settings({ maxBatch: 4, maxDelayMs: 0, concurrency: 2 }),
    engine.run,
    3,
    CLASSES,
  );
  const r = await b.submit(Array.from({ length: 10 }, (_, i) => image(i)));
  t.same(
    engine.batches.reduce((a, n) => a + n, 0),
    10,
  );
  t.ok(
    engine.batches.every((n) => n <= 4),
    `batches ${engine.batches.join(',')} respect maxBatch`,
  );
  t.same(
    r.logits.map((l) => l[0]),
    Array.from({ length: 10 }, (_, i) => 3 * i),
    'rows in request order',
  );
});

t.test('at most `concurrency` batches compute at once', async (t) => {
  const engine = fakeEngine(20);
  const b = new Batcher(
    'm',
    settings({ maxBatch: 1, maxDelayMs: 0, concurrency: 2 }),
    engine.run,
    3,
    CLASSES,
  );
  await Promise.all(Array.from({ length: 6 }, (_, i) => b.submit([image(i)])));
  t.equal(engine.maxRunning(), 2);
});

t.test('a full queue refuses at once with 503 and Retry-After', async (t) => {
  const engine = fakeEngine(50);
  const rejected: string[] = [];
  const b = new Batcher(
    'm',
    settings({ maxBatch: 1, maxDelayMs: 0, queueLimit: 2 }),
    engine.run,
    3,
    CLASSES,
    { rejected: (r) => rejected.push(r) },
  );
  const running = b.submit([image(0)]); // dispatched at once
  const queued = [b.submit([image(1)]), b.submit([image(2)])];
  await t.rejects(b.submit([image(3)]), { code: 'QUEUE_FULL' });
  try {
    await b.submit([image(4)]);
  } catch (err) {
    t.equal((err as QueueFullError).statusCode, 503);
    t.ok(Number((err as QueueFullError).detail.retryAfter) >= 1, 'Retry-After in seconds');
    t.match((err as Error).message, /queue is full/);
  }
  await Promise.all([running, ...queued]);
  t.same(rejected, ['queue_full', 'queue_full']);
});

t.test('a cancelled request is dropped before it is computed', async (t) => {
  const engine = fakeEngine(30);
  const b = new Batcher('m', settings({ maxBatch: 1, maxDelayMs: 0 }), engine.run, 3, CLASSES);
  const first = b.submit([image(0)]);
  const controller = new AbortController();
  const cancelled = b.submit([image(1)], controller.signal);
  controller.abort();
  await t.rejects(cancelled, { code: 'CLIENT_CLOSED' });
  await first;
  await b.idle();
  t.same(engine.batches, [1], 'only the first request was computed');
});

t.test('a request past its deadline gets a 504', async (t) => {
  const engine = fakeEngine(100);
  const b = new Batcher('m', settings({ maxBatch: 1, maxDelayMs: 0, timeoutMs: 30 }), engine.run, 3, CLASSES);
  const first = t.rejects(
    b.submit([image(0)]),
    { code: 'DEADLINE_EXCEEDED' } as never,
    'even a computing request times out for its caller',
  );
  await t.rejects(b.submit([image(1)]), { statusCode: 504, code: 'DEADLINE_EXCEEDED' });
  await first;
});

t.test('draining: new work is refused, queued work finishes, idle() resolves', async (t) => {
  const engine = fakeEngine(20);
  const b = new Batcher('m', settings({ maxBatch: 1, maxDelayMs: 0 }), engine.run, 3, CLASSES);
  const pending = [b.submit([image(1)]), b.submit([image(2)])];
  b.close();
  await t.rejects(b.submit([image(3)]), { statusCode: 503, code: 'DRAINING' });
  await b.idle();
  const results = await Promise.all(pending);
  t.same(
    results.map((r) => r.logits[0][0]),
    [3, 6],
  );
  t.notOk(b.busy);
});

t.test('setMaxBatch(1): every batch holds one image, a request of three spans three batches', async (t) => {
  const engine = fakeEngine(5);
  const b = new Batcher('m', settings({ maxDelayMs: 0 }), engine.run, 3, CLASSES);
  b.setMaxBatch(1);
  const [three, one] = await Promise.all([b.submit([image(1), image(2), image(3)]), b.submit([image(4)])]);
  t.same(engine.batches, [1, 1, 1, 1], 'four batches of one image');
  t.same(
    three.logits.map((l) => l[0]),
    [3, 6, 9],
    'the three-image request gets its rows in order',
  );
  t.equal(one.logits[0][0], 12);
});
