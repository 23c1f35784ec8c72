/**
 * CPU time of one thread, read from the kernel (Linux): what a worker has actually computed, as
 * opposed to how long it has existed. A budget in CPU time does not run out while the thread waits
 * for a core that busier threads hold (inference, or the work of other requests).
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** The calling thread's id, where /proc says it (Linux); undefined elsewhere. */
export function currentThreadId(): number | undefined {
  try {
    const id = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Clock ticks per second for /proc's utime and stime: 100 on every Linux Node supports. */
const TICKS_PER_SECOND = 100;

/** User plus system CPU time of thread `tid` of this process, in ms; undefined if it cannot be read. */
export function threadCpuMs(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name (in parentheses, which may hold spaces): utime and stime are 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}
