/**
 * Model files as people have them, read as a topology and as weights: an ONNX file, a TensorFlow.js
 * converter folder's model.json (topology and weight manifest together), or a Keras 2 full-model
 * HDF5 file (`model.save('m.h5')`: the topology in its `model_config` attribute). Weight-only files
 * (safetensors, Keras weight H5, tfjs manifests) are read by src/weights/load.ts; ONNX weights are
 * read here, because their names come from the graph the importer builds.
 */
import { readFile, stat } from 'node:fs/promises';
import { h5wasm as loadH5wasm } from '../weights/h5wasm.js';
import { AppError } from '../errors.js';
import type { Graph, Shape3 } from '../spec/types.js';
import { readHead, readWeightFile } from '../weights/load.js';
import { isHdf5 } from '../weights/keras-h5.js';
import { isSafetensors } from '../weights/safetensors.js';
import { isTfjsManifest } from '../weights/tfjs-manifest.js';
import { WeightsError, type WeightFile } from '../weights/types.js';
import { graphFromKerasConfig, graphFromTfjsModelJson } from './keras/import.js';
import { graphFromOnnx } from './onnx/import.js';
import { readOnnxModel } from './onnx/read.js';

export type ModelFileFormat = 'onnx' | 'tfjs-layers-model' | 'keras-h5';

/** ONNX has no magic number; a ModelProto starts with ir_version (field 1, varint) and is checked by decoding. */
const looksLikeOnnx = (start: Uint8Array, fileLength: number) =>
  start.length > 2 && start[0] === 0x08 && !isSafetensors(start, fileLength);

/** Which kind of model file holds a topology, judged by its bytes. */
export async function modelFileFormat(file: string): Promise<ModelFileFormat | undefined> {
  const start = await readHead(file, 4096);
  if (isHdf5(start)) return 'keras-h5';
  if (isTfjsManifest(start)) return 'tfjs-layers-model';
  if (looksLikeOnnx(start, (await stat(file)).size)) return 'onnx';
  return undefined;
}

async function kerasH5Config(file: string): Promise<unknown> {
  const h5wasm = await loadH5wasm();
  const h5 = new h5wasm.File(file, 'r');
  try {
    const config = h5.attrs.model_config?.value;
    if (typeof config !== 'string') {
      throw new AppError(
        422,
        'UNSUPPORTED_MODEL',
        `${file}: a Keras H5 file without a model_config attribute holds weights only; name the architecture in config.json`,
        { field: 'weights' },
      );
    }
    return JSON.parse(config);
  } finally {
    h5.close();
  }
}

/** The topology a model file holds, as our graph (`input` for models saved with open sizes). */
export async function graphFromModelFile(
  file: string,
  input?: Shape3,
): Promise<{ graph: Graph; format: ModelFileFormat }> {
  const format = await modelFileFormat(file);
  switch (format) {
    case 'onnx':
      return {
        graph: graphFromOnnx(readOnnxModel(new Uint8Array(await readFile(file)), file), { input }).graph,
        format,
      };
    case 'tfjs-layers-model':
      return { graph: graphFromTfjsModelJson(JSON.parse(await readFile(file, 'utf8')), { input }), format };
    case 'keras-h5':
      return { graph: graphFromKerasConfig(await kerasH5Config(file), { input }), format };
    default:
      throw new AppError(
        422,
        'UNSUPPORTED_MODEL',
        `${file}: holds no topology (expected an ONNX file, a tfjs model.json or a Keras full-model H5); name the architecture in config.json`,
        { field: 'weights' },
      );
  }
}

/** The weights of any supported file; ONNX weights come out keyed by the importer's layer names, in our layout. */
export async function readModelWeights(file: string): Promise<WeightFile> {
  if ((await modelFileFormat(file)) === 'onnx') {
    const imported = graphFromOnnx(readOnnxModel(new Uint8Array(await readFile(file)), file));
    if (!imported.hasWeights)
      throw new WeightsError(
        `${file}: the ONNX file holds no weight values (exported with export_params=False)`,
      );
    const tensors = new Map(
      imported.weights().map((w) => [`${w.layer}/${w.weight}`, { shape: w.shape, data: w.data }]),
    );
    return { format: 'onnx', tensors };
  }
  return readWeightFile(file);
}
