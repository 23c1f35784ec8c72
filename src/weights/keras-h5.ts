/**
 * Keras 2 HDF5 weight files, as Keras Applications ship them (`model.save_weights`): the root
 * attribute `layer_names` lists the layers in order, each layer group has `weight_names`
 * (`conv1_conv/kernel:0`, …) and the datasets live at `<layer>/<weight name>`. Read with h5wasm,
 * the maintained HDF5 build for JavaScript.
 */
import { h5wasm as loadH5wasm, type H5wasm } from './h5wasm.js';
import { normaliseKerasWeightName } from './tfjs-manifest.js';
import { WeightsError, type RawTensor } from './types.js';

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export function isHdf5(bytes: Uint8Array): boolean {
  return SIGNATURE.every((b, i) => bytes[i] === b);
}

const strings = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.map(String)
    : typeof value === 'string'
      ? [value]
      : value && typeof (value as ArrayLike<unknown>).length === 'number'
        ? Array.from(value as ArrayLike<unknown>, String)
        : [];

export async function readKerasH5(filePath: string): Promise<Map<string, RawTensor>> {
  const h5wasm = await loadH5wasm();
  const file = new h5wasm.File(filePath, 'r');
  if (typeof file.file_id === 'bigint' ? file.file_id < 0n : Number(file.file_id) < 0) {
    throw new WeightsError(`keras-h5: ${filePath} cannot be opened as HDF5 (truncated or corrupt)`);
  }
  try {
    // Keras saves either the weights at the root or (model.save) under /model_weights.
    const root =
      file.get('model_weights') instanceof h5wasm.Group
        ? (file.get('model_weights') as InstanceType<H5wasm['Group']>)
        : file;
    const layerNames = strings(root.attrs.layer_names?.value);
    if (layerNames.length === 0)
      throw new WeightsError('keras-h5: no layer_names attribute; not a Keras weights file');
    const tensors = new Map<string, RawTensor>();
    for (const layer of layerNames) {
      const group = root.get(layer);
      if (!(group instanceof h5wasm.Group))
        throw new WeightsError(
          `keras-h5: layer_names lists ${layer} but the file has no such group (truncated?)`,
        );
      for (const weightName of strings(group.attrs.weight_names?.value)) {
        const dataset = group.get(weightName);
        if (!(dataset instanceof h5wasm.Dataset))
          throw new WeightsError(`keras-h5: ${layer}/${weightName} is listed but missing (truncated?)`);
        const value = dataset.value;
        if (!(value instanceof Float32Array || value instanceof Float64Array)) {
          throw new WeightsError(
            `keras-h5: ${layer}/${weightName} has dtype ${dataset.dtype}; expected float32 or float64`,
          );
        }
        // Keras names weights `<layer>/<weight>:0`; a nested model's group holds its layers' weights under their own names.
        const name = normaliseKerasWeightName(weightName);
        tensors.set(name.includes('/') ? name : `${layer}/${name}`, {
          shape: dataset.shape ?? [],
          data: Float32Array.from(value),
        });
      }
    }
    return tensors;
  } finally {
    file.close();
  }
}
