/**
 * Reads a weight file of any supported format, detected from its bytes (not its extension):
 * safetensors, a tfjs model.json manifest, or Keras HDF5.
 */
import { open, readFile } from 'node:fs/promises';
import { isHdf5, readKerasH5 } from './keras-h5.js';
import { isSafetensors, readSafetensors } from './safetensors.js';
import { isTfjsManifest, readTfjsManifest } from './tfjs-manifest.js';
import { WeightsError, type WeightFile } from './types.js';

/** The first `n` bytes of a file, for sniffing its format. */
export async function readHead(filePath: string, n: number): Promise<Uint8Array> {
  const handle = await open(filePath, 'r').catch(() => {
    throw new WeightsError(`weights file ${filePath} cannot be read`);
  });
  try {
    const buffer = new Uint8Array(n);
    const { bytesRead } = await handle.read(buffer, 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

export async function readWeightFile(filePath: string): Promise<WeightFile> {
  const start = await readHead(filePath, 4096);
  if (isHdf5(start)) return { format: 'keras-h5', tensors: await readKerasH5(filePath) };
  if (isTfjsManifest(start)) return { format: 'tfjs-manifest', tensors: await readTfjsManifest(filePath) };
  const bytes = await readFile(filePath);
  if (isSafetensors(bytes)) return { format: 'safetensors', tensors: readSafetensors(bytes) };
  throw new WeightsError(
    `weights file ${filePath} is not safetensors, a tfjs model.json manifest or Keras HDF5`,
  );
}
