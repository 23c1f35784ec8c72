// The per-thread CPU clock the analysis budget uses: it counts computing, not waiting.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentThreadId, threadCpuMs } from '../src/thread-cpu.js';

t.test(
  'a thread spinning for 300 ms uses about 300 ms of CPU; one sleeping uses next to none',
  { skip: process.platform !== 'linux' && 'Linux only' },
  async (t) => {
    const tid = currentThreadId();
    t.equal(tid, process.pid, 'the main thread is the process');
    const before = threadCpuMs(tid as number) as number;
    const end = Date.now() + 300;
    while (Date.now() < end) {
      // computing on purpose
    }
    const spun = (threadCpuMs(tid as number) as number) - before;
    // Under a busy machine the spin may get less than its wall time; never more (ticks are 10 ms).
    t.ok(spun > 0 && spun <= 320, `spinning used ${spun} ms of CPU`);
    const beforeSleep = threadCpuMs(tid as number) as number;
    await sleep(300);
    const slept = (threadCpuMs(tid as number) as number) - beforeSleep;
    t.ok(slept < 100, `sleeping used ${slept} ms of CPU`);
    t.equal(threadCpuMs(2 ** 30), undefined, 'a thread that does not exist has no clock');
  },
);
