/**
 * Background threads yield the CPU to the event loop. Inference and analysis run in worker threads
 * that raise their own nice value when they start; on Linux the nice value belongs to a thread, and
 * threads inherit it from the thread that creates them, so ONNX Runtime's and tfjs' compute threads
 * (created by the worker) yield too. When the cores are saturated the scheduler then runs the event
 * loop first: health probes, request parsing and answers stay prompt, and the background work takes
 * every cycle the event loop leaves (the scheduler is work-conserving, so an idle event loop costs
 * inference nothing).
 *
 * Only on Linux: elsewhere setpriority() changes the whole process, which would slow the event loop
 * with everything else.
 */
import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export type PriorityResult = { applied: true; nice: number } | { applied: false; reason: string };

/** Raises the calling thread's nice value to `nice` (never lowers it: that needs privileges). */
export function yieldThreadPriority(nice: number): PriorityResult {
  if (nice === 0) return { applied: false, reason: 'BACKGROUND_NICE is 0' };
  if (process.platform !== 'linux')
    return { applied: false, reason: `per-thread priority needs Linux, not ${process.platform}` };
  try {
    if (getPriority(0) >= nice) return { applied: true, nice: getPriority(0) };
    setPriority(0, nice);
    return { applied: true, nice: getPriority(0) };
  } catch (err) {
    return { applied: false, reason: (err as Error).message };
  }
}

/**
 * The nice value of the process's helper threads: libuv's pool (where sharp decodes images), libvips'
 * workers and V8's platform threads. Half of BACKGROUND_NICE: below the event loop and the health
 * thread, above inference, so decoding still feeds the engine first.
 */
export const helperNice = (backgroundNice: number) => Math.ceil(backgroundNice / 2);

/**
 * Raises every thread of this process but `keep` to at least `nice`, and returns how many it changed.
 * Without this, decoding a burst of large images runs on as many threads at the event loop's priority
 * and a health probe waits for a core behind them. Threads are found in /proc/self/task because the
 * helper threads are created by native code no JavaScript runs in; a thread created later by one of
 * them inherits its nice value. Never lowers a value (inference workers sit higher already).
 */
export function yieldHelperThreads(keep: readonly number[], nice: number): number {
  if (nice === 0 || process.platform !== 'linux') return 0;
  let changed = 0;
  for (const entry of readdirSync('/proc/self/task')) {
    const tid = Number(entry);
    if (keep.includes(tid)) continue;
    try {
      if (getPriority(tid) >= nice) continue;
      setPriority(tid, nice);
      changed++;
    } catch {
      // The thread ended between the listing and the call.
    }
  }
  return changed;
}
