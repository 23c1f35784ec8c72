/**
 * Starts a worker thread from a module beside the caller: the compiled .js in the build, and under
 * tsx (tests, development) the .ts source through a bootstrap that registers tsx first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `base` is the caller's import.meta.url; `name` the worker module's name without its extension. */
export function spawnWorker(
  base: string,
  name: string,
  workerData: unknown,
  options: Omit<WorkerOptions, 'workerData' | 'eval'> = {},
): Worker {
  const fromSource = base.endsWith('.ts');
  const url = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, base);
  if (!fromSource) return new Worker(url, { ...options, workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true, workerData });
}
