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
