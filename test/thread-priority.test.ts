// Inference and analysis threads run at a higher nice value than the event loop, so health and
// request handling come first when the cores are saturated. Checked from outside the code that sets
// it: the kernel's own per-thread nice values in /proc.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { buildApp } from '../src/app.js';
import { testConfig } from '../src/config.js';
import { Worker } from 'node:worker_threads';
import { helperNice, yieldHelperThreads, yieldThreadPriority } from '../src/thread-priority.js';

/** Each thread of this process with its nice value (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNice(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // The command name in parentheses may hold spaces; the fields after it are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), Number(fields[16]));
  }
  return out;
}

const linux = process.platform === 'linux';
// First: threads a reniced worker leaves behind (ONNX Runtime's, process-wide) would be counted.
t.test('BACKGROUND_NICE=0 leaves every thread alone', { skip: !linux && 'Linux only' }, async (t) => {
  t.same(yieldThreadPriority(0), { applied: false, reason: 'BACKGROUND_NICE is 0' });
  const app = await buildApp(testConfig({ backgroundNice: 0 }));
  t.teardown(() => app.close());
  const analyze = await app.inject({
    method: 'POST',
    url: '/analyze',
    payload: { spec: { input: [8, 8, 1], layers: [{ kind: 'conv2d', filters: 2, kernel: 3 }] } },
  });
  t.equal(analyze.statusCode, 200);
  t.same([...new Set(threadNice().values())], [0], 'every thread at nice 0');
});

t.test(
  'inference and analysis threads yield; the event loop keeps its priority',
  { skip: !linux && 'Linux only' },
  async (t) => {
    const app = await buildApp(
      testConfig({ serveModels: true, workers: 1, onnxThreads: 1, backgroundNice: 7 }),
    );
    t.teardown(() => app.close());
    await app.models.loadAll();
    const png = await readFile(new URL('./fixtures/fashion/0_9.png', import.meta.url));
    const classify = await app.inject({
      method: 'POST',
      url: '/classify',
      headers: { 'content-type': 'image/png' },
      payload: png,
    });
    t.equal(classify.statusCode, 200);
    const analyze = await app.inject({ method: 'POST', url: '/analyze', payload: { model: 'resnet18' } });
    t.equal(analyze.statusCode, 200);
    const nice = threadNice();
    t.equal(nice.get(process.pid), 0, 'the main thread (the event loop) is not reniced');
    const yielded = [...nice.values()].filter((n) => n === 7).length;
    // The inference worker, the threads its engine created, and the analysis worker.
    t.ok(yielded >= 2, `${yielded} threads at nice 7 (of ${nice.size})`);
    t.same(app.pool.priority, { applied: true, nice: 7 });
  },
);

/** A worker thread that reports its kernel id, optionally reniced to `nice` first, and then waits. */
async function idleThread(nice = 0): Promise<{ tid: number; worker: Worker }> {
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { readlinkSync } = require('node:fs');
     const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
     if (${nice} > 0) require('node:os').setPriority(0, ${nice});
     parentPort.postMessage(tid);
     parentPort.on('message', () => {});`,
    { eval: true },
  );
  const tid = await new Promise<number>((resolve) => worker.once('message', resolve));
  return { tid, worker };
}

t.test(
  'helper threads yield to the event loop and the kept (health) thread, never the other way',
  { skip: !linux && 'Linux only' },
  async (t) => {
    t.equal(helperNice(10), 5, 'half of BACKGROUND_NICE');
    t.equal(yieldHelperThreads([], 0), 0, 'BACKGROUND_NICE=0 changes nothing');
    const kept = await idleThread();
    const helper = await idleThread();
    const background = await idleThread(9);
    t.teardown(() => Promise.all([kept, helper, background].map((x) => x.worker.terminate())));
    const changed = yieldHelperThreads([process.pid, kept.tid], 4);
    const nice = threadNice();
    t.equal(nice.get(process.pid), 0, 'the event loop keeps its priority');
    t.equal(nice.get(kept.tid), 0, 'the kept thread keeps its priority');
    t.equal(nice.get(helper.tid), 4, 'another thread yields');
    t.equal(nice.get(background.tid), 9, 'a thread already lower is not raised');
    t.ok(changed >= 1, `${changed} threads changed`);
    t.equal(yieldHelperThreads([process.pid, kept.tid], 4), 0, 'a second sweep finds nothing to do');
  },
);
