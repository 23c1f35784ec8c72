/**
 * h5wasm, loaded on first use: compiling its WebAssembly costs every inference worker and the main
 * thread a few hundred milliseconds at start-up, for the Keras H5 files most deployments never read.
 */
import type H5Module from 'h5wasm/node';

export type H5wasm = typeof H5Module;

let loading: Promise<H5wasm> | undefined;

export function h5wasm(): Promise<H5wasm> {
  loading ??= import('h5wasm/node').then(async ({ default: h5 }) => {
    await h5.ready;
    return h5;
  });
  return loading;
}
