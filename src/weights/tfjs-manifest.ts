/**
 * The tfjs layers-model weights format written by tensorflowjs_converter: model.json holds a
 * weightsManifest of groups, each listing shard paths and the weights stored, in order, across the
 * concatenated shards. Only float32 unquantised weights are supported.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WeightsError, type RawTensor } from './types.js';

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}
interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

/** A tfjs model.json, judged by its first bytes: a JSON object whose keys are tfjs' (the manifest often comes last). */
export function isTfjsManifest(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 4096));
  return (
    head.trimStart().startsWith('{') &&
    /"(weightsManifest|modelTopology)"\s*:|"format"\s*:\s*"layers-model"/.test(head)
  );
}

/**
 * Keras-style weight names: `<layer>/<weight>`, possibly with a `:0` suffix (dropped here) and a
 * model prefix (`model/conv1/kernel`, kept: layer names may hold a slash themselves, as DenseNet's
 * `conv1/conv`; the binder matches the longest known suffix).
 */
export function normaliseKerasWeightName(name: string): string {
  return name.replace(/:\d+$/, '');
}

export async function readTfjsManifest(modelJsonPath: string): Promise<Map<string, RawTensor>> {
  let doc: { weightsManifest?: ManifestGroup[] };
  try {
    doc = JSON.parse(await readFile(modelJsonPath, 'utf8'));
  } catch (err) {
    throw new WeightsError(`tfjs manifest ${path.basename(modelJsonPath)}: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc.weightsManifest))
    throw new WeightsError(`tfjs manifest ${path.basename(modelJsonPath)}: no weightsManifest array`);
  const dir = path.dirname(modelJsonPath);
  const tensors = new Map<string, RawTensor>();
  for (const group of doc.weightsManifest) {
    const shards = await Promise.all(
      group.paths.map(async (p) => {
        const resolved = path.resolve(dir, p);
        if (!resolved.startsWith(dir + path.sep))
          throw new WeightsError(`tfjs manifest: shard path ${p} leaves the model folder`);
        return readFile(resolved).catch(() => {
          throw new WeightsError(`tfjs manifest: shard ${p} cannot be read`);
        });
      }),
    );
    const buffer = Buffer.concat(shards);
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32' || w.quantization)
        throw new WeightsError(
          `tfjs manifest: ${w.name} is ${w.quantization ? 'quantised' : w.dtype}; only float32 is supported`,
        );
      const count = w.shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > buffer.length)
        throw new WeightsError(
          `tfjs manifest: shards end before ${w.name} (${JSON.stringify(w.shape)}); truncated?`,
        );
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = buffer.readFloatLE(offset + i * 4);
      offset += count * 4;
      tensors.set(normaliseKerasWeightName(w.name), { shape: w.shape, data });
    }
  }
  return tensors;
}
