/**
 * Picks the fastest TensorFlow.js backend present: `tensorflow` (tfjs-node, native libtensorflow),
 * then `wasm` (SIMD), then `cpu`. tfjs-node is an optional dependency whose install downloads
 * libtensorflow; where that failed it is simply absent and we fall through. TFJS_BACKEND forces one.
 * With TFJS_WASM_THREADS above 1, wasm is tfjs' threaded build, started by ./wasm-threads.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import { useThreadedWasm } from './wasm-threads.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** Why each faster backend was skipped. */
  skipped: { backend: BackendName; reason: string }[];
  /** Whether the wasm binary uses SIMD, and how many threads each worker's wasm runs, when wasm is the choice. */
  wasm?: { simd: boolean; threads: number; threadedBuildError?: string };
}

async function tryBackend(name: BackendName, wasmThreads: number): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // Registers the 'tensorflow' backend on import; throws where libtensorflow is missing.
      await import('@tensorflow/tfjs-node' as string);
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
      if (wasmThreads > 1) {
        try {
          await useThreadedWasm(wasmThreads);
          return null;
        } catch (err) {
          // The single-threaded build still serves (reported with this reason), not the cpu backend.
          threadedBuildError = (err as Error).message.split('\n')[0];
        }
      }
    } else {
      // Loaded only when chosen: the engine imports tfjs-core alone (the umbrella package's layers,
      // converter and webgl cost every worker half a second at start-up for nothing).
      await import('@tensorflow/tfjs-backend-cpu');
    }
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') returned false`;
    await tf.ready();
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

let chosen: Promise<BackendChoice> | undefined;
let threadedBuildError: string | undefined;

/**
 * Initialises the backend once per process (tfjs' engine is process-wide). `forced` comes from
 * TFJS_BACKEND; forcing a backend that cannot load is an error, not a silent fallback.
 */
export function initBackend(forced?: BackendName, wasmThreads = 1): Promise<BackendChoice> {
  chosen ??= (async () => {
    const skipped: BackendChoice['skipped'] = [];
    for (const name of forced ? [forced] : BACKEND_ORDER) {
      const failure = await tryBackend(name, wasmThreads);
      if (failure === null) {
        const choice: BackendChoice = { name, skipped };
        if (name === 'wasm') {
          choice.wasm = {
            simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
            threads: (await import('@tensorflow/tfjs-backend-wasm')).getThreadsCount(),
            ...(threadedBuildError ? { threadedBuildError } : {}),
          };
        }
        return choice;
      }
      skipped.push({ backend: name, reason: failure });
    }
    throw new Error(
      `no TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`,
    );
  })();
  return chosen;
}
