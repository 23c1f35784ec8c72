// Fair, bounded decoding: decodes here are promises the test settles by hand, so the order in which
// the scheduler starts them is observed exactly.
import t from 'tap';
import { DecodeScheduler } from '../../src/serving/decode-scheduler.js';

/** A decode the test finishes when it chooses; `started` records the order of starts. */
function harness(concurrency: number, memoryBytes: number) {
  const scheduler = new DecodeScheduler(concurrency, memoryBytes);
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  const decode = (name: string) => () =>
    new Promise<string>((resolve) => {
      started.push(name);
      finishers.set(name, () => resolve(name));
    });
  const finish = async (name: string) => {
    finishers.get(name)?.();
    await new Promise((r) => setImmediate(r));
  };
  return { scheduler, started, decode, finish };
}

t.test("one client's 32 images delay another's single image by one decode at most", async (t) => {
  const { scheduler, started, decode, finish } = harness(1, 1e9);
  const big = scheduler.session();
  const bigDone = Promise.all(Array.from({ length: 32 }, (_, i) => big.run(1, 0, decode(`big${i}`))));
  t.same(started, ['big0']);
  const small = scheduler.session();
  const smallDone = small.run(1, 0, decode('small'));
  await finish('big0');
  t.same(started, ['big0', 'small'], 'the single image goes next');
  await finish('small');
  t.equal(await smallDone, 'small');
  for (let i = 1; i < 32; i++) await finish(`big${i}`);
  t.equal((await bigDone).length, 32, 'the large request completes');
});

t.test('turns follow the decode cost served, so heavy images take fewer turns', async (t) => {
  const { scheduler, started, decode, finish } = harness(1, 1e9);
  const heavy = scheduler.session();
  const light = scheduler.session();
  const all = [
    ...Array.from({ length: 3 }, (_, i) => heavy.run(10, 0, decode(`heavy${i}`))),
    ...Array.from({ length: 12 }, (_, i) => light.run(1, 0, decode(`light${i}`))),
  ];
  for (let n = 0; n < 15; n++) await finish(started[n]);
  await Promise.all(all);
  // heavy0 (10) runs first; the light request then takes turns until it has been served 10 too.
  t.same(started.slice(0, 12), ['heavy0', ...Array.from({ length: 10 }, (_, i) => `light${i}`), 'heavy1']);
});

t.test('concurrency and decoder memory in flight are bounded', async (t) => {
  const { scheduler, started, decode, finish } = harness(3, 100);
  const s = scheduler.session();
  const done = ['a', 'b', 'c', 'd'].map((n) => s.run(1, 40, decode(n)));
  t.same(started, ['a', 'b'], 'a third 40-byte decode would pass the 100-byte budget');
  t.same(scheduler.load, { running: 2, waiting: 2, memoryBytes: 80 });
  await finish('a');
  t.same(started, ['a', 'b', 'c']);
  const huge = scheduler.session().run(1, 500, decode('huge'));
  await finish('b');
  await finish('c');
  t.same(
    started,
    ['a', 'b', 'c', 'huge'],
    'a decode larger than the budget runs alone when nothing else does',
  );
  t.same(scheduler.load.running, 1);
  await finish('huge');
  await finish('d');
  await Promise.all([...done, huge]);
  t.same(scheduler.load, { running: 0, waiting: 0, memoryBytes: 0 });
});

t.test('a client that leaves has its waiting decodes dropped with 499', async (t) => {
  const { scheduler, started, decode, finish } = harness(1, 1e9);
  const controller = new AbortController();
  const leaving = scheduler.session(controller.signal);
  const first = leaving.run(1, 0, decode('x0'));
  const rest = [1, 2].map((i) => leaving.run(1, 0, decode(`x${i}`)));
  const refusals = rest.map((r) => t.rejects(r, { statusCode: 499, code: 'CLIENT_CLOSED_REQUEST' }));
  controller.abort();
  await finish('x0');
  t.equal(await first, 'x0', 'the running decode finishes');
  await Promise.all(refusals);
  t.same(started, ['x0'], 'the waiting ones never start');
  t.same(scheduler.load, { running: 0, waiting: 0, memoryBytes: 0 });
});
