/**
 * Where a server's CPU goes, by thread, read from outside through /proc (Linux): the event loop is
 * the main thread (its id is the pid); inference threads (the workers and the ONNX Runtime / wasm
 * threads they create) run at BACKGROUND_NICE; the helper threads (libuv's pool, where sharp decodes
 * and resizes, libvips' workers and V8's platform threads, mostly GC) at half of it. The nice value
 * tells the roles apart without the server's help.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type ThreadRole = 'event loop' | 'inference' | 'libvips' | 'other helpers' | 'other';
export const THREAD_ROLES: ThreadRole[] = ['event loop', 'inference', 'libvips', 'other helpers', 'other'];

interface ThreadSample {
  role: ThreadRole;
  cpuMs: number;
}

/** CPU ms of every live thread of `pid`, with its role; empty where /proc is missing. */
export function sampleThreads(pid: number, backgroundNice: number): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // ended between the listing and the read
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, clock ticks
    const nice = Number(fields[16]);
    const role: ThreadRole =
      Number(tid) === pid
        ? 'event loop'
        : nice === backgroundNice
          ? 'inference'
          : name.startsWith('libvips')
            ? 'libvips'
            : nice === Math.ceil(backgroundNice / 2)
              ? 'other helpers'
              : 'other';
    out.set(Number(tid), { role, cpuMs });
  }
  return out;
}

/**
 * CPU ms per role between two samples. A thread that ended in between loses what it used since the
 * first sample (libvips ends idle workers), so the figures are a lower bound for that role.
 */
export function cpuByRole(
  before: Map<number, ThreadSample>,
  after: Map<number, ThreadSample>,
): Record<ThreadRole, number> {
  const totals = Object.fromEntries(THREAD_ROLES.map((r) => [r, 0])) as Record<ThreadRole, number>;
  for (const [tid, now] of after) totals[now.role] += now.cpuMs - (before.get(tid)?.cpuMs ?? 0);
  return totals;
}
