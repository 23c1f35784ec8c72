/**
 * Picks the fastest TensorFlow.js backend present: `tensorflow` (tfjs-node, native libtensorflow),
 * then `wasm` (SIMD), then `cpu`. tfjs-node is an optional dependency whose install downloads
 * libtensorflow; where that failed it is simply absent and we fall through. TFJS_BACKEND forces one.
 */
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** Why each faster backend was skipped. */
  skipped: { backend: BackendName; reason: string }[];
  /** Whether the wasm binary uses SIMD / threads, when wasm is the choice. */
  wasm?: { simd: boolean; threads: boolean };
}

async function tryBackend(name: BackendName): Promise<string | null> {
  try {
    if (name === 'tensorflow') {
      // Registers the 'tensorflow' backend on import; throws where libtensorflow is missing.
      await import('@tensorflow/tfjs-node' as string);
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
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

/**
 * Initialises the backend once per process (tfjs' engine is process-wide). `forced` comes from
 * TFJS_BACKEND; forcing a backend that cannot load is an error, not a silent fallback.
 */
export function initBackend(forced?: BackendName): Promise<BackendChoice> {
  chosen ??= (async () => {
    const skipped: BackendChoice['skipped'] = [];
    for (const name of forced ? [forced] : BACKEND_ORDER) {
      const failure = await tryBackend(name);
      if (failure === null) {
        const choice: BackendChoice = { name, skipped };
        if (name === 'wasm') {
          choice.wasm = {
            simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
            threads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
          };
        }
        return choice;
      }
      skipped.push({ backend: name, reason: failure });
    }
    throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ')}`);
  })();
  return chosen;
}
