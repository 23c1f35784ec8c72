import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/engines/tfjs/backend.js';
import type { TfjsExecutor } from '../../src/engines/tfjs/executor.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import type { RawTensor } from '../../src/weights/types.js';

/** Tests run on whatever initBackend picks; here that is wasm (tfjs-node cannot install). */
export const backendReady = () => initBackend(process.env.TFJS_BACKEND as never);

export const fixture = (rel: string) => new URL(`../fixtures/${rel}`, import.meta.url);

export function readFixtureTensors(rel: string): Map<string, RawTensor> {
  return readSafetensors(new Uint8Array(readFileSync(fixture(rel))));
}

/** Largest |a − b| over two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

export async function predict(model: TfjsExecutor, input: RawTensor): Promise<Float32Array> {
  const x = tf.tensor4d(input.data, input.shape as [number, number, number, number], 'float32');
  const y = model.predict(x);
  const data = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return data;
}
