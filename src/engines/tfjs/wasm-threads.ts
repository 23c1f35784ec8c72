/**
 * tfjs' multi-threaded wasm build (XNNPACK over pthreads), started in Node.
 *
 * tfjs-backend-wasm ships the threaded SIMD binary and an Emscripten loader that supports Node
 * (pthreads become worker_threads), but tfjs turns it off in Node (WASM_HAS_MULTITHREAD_SUPPORT is
 * false when IS_NODE; tensorflow/tfjs#3830) because its own init() hands Emscripten Blob URLs for
 * the pthread worker and the main script, which Node's workers cannot load. So we do that init's
 * job with file paths instead and register the result under the name 'wasm', where tfjs' wasm
 * kernels are registered. Two more adjustments, both from backend.cc's init_with_threads_count:
 * the thread count is capped at the logical cores / 2 (it assumes two hyper-threads per core, and
 * reads the cores through os.cpus() in Node), so the count the loader sees is set for the
 * duration of the module's start-up; and at most 8 threads exist (8 pthread workers are started).
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { renameSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);
export const MAX_WASM_THREADS = 8;

interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  tfjs?: Record<string, (...args: number[]) => number>;
}

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/** Starts the threaded module with `threads` XNNPACK threads and makes it tfjs' 'wasm' backend. Returns the threads in use. */
export async function useThreadedWasm(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_WASM_THREADS)
    throw new RangeError(`wasm threads: expected 1 to ${MAX_WASM_THREADS}; received ${threads}`);
  // Imported here, not at the top: importing the package registers its backend, which must only
  // happen when wasm is being chosen (see backend.ts).
  const { BackendWasm, getThreadsCount, setThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  const dir = path.join(
    path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')),
    'wasm-out',
  );
  const factory = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.js')) as Factory;
  const { wasmWorkerContents } = require(path.join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // The pthread worker's source as a file (tfjs escapes its newlines the same way for its Blob).
  // One file per tfjs version, replaced atomically, so restarts and parallel workers share it.
  const { version } = require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string };
  const workerFile = path.join(os.tmpdir(), `convnet-serve-tfjs-wasm-${version}-pthread-worker.js`);
  const partial = `${workerFile}.${process.pid}.${threadId}`;
  writeFileSync(partial, wasmWorkerContents.replace(/\n/g, '\\n'));
  renameSync(partial, workerFile);

  const realCpus = os.cpus;
  os.cpus = () => Array.from({ length: 2 * threads }, () => realCpus()[0]);
  let module: EmscriptenModule;
  try {
    module = await factory({
      locateFile: (file: string, prefix: string) =>
        file.endsWith('.worker.js')
          ? workerFile
          : file.endsWith('.wasm')
            ? path.join(dir, file)
            : prefix + file,
      // Each pthread worker loads the module from here (importScripts reads a file in Node).
      mainScriptUrlOrBlob: path.join(dir, 'tfjs-backend-wasm-threaded-simd.js'),
    });
  } finally {
    os.cpus = realCpus;
  }
  // The same bindings tfjs' own init() attaches.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  // Everything that can fail has run; only now is tfjs' own wasm registration replaced.
  setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => new BackendWasm(module as never), 2);
  if (!(await tf.setBackend('wasm'))) throw new Error('the threaded wasm backend did not start');
  await tf.ready();
  return getThreadsCount();
}
