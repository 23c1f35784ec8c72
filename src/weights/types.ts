/** What every weight reader returns: float32 tensors by key, plus where they came from. */
export interface RawTensor {
  shape: number[];
  data: Float32Array;
}

export type KeyStyle = 'layer-names' | 'torchvision';

export interface WeightFile {
  format: 'safetensors' | 'tfjs-manifest' | 'keras-h5' | 'onnx';
  /** Tensors keyed `<layer>/<weight>` (our and Keras' names) or by torchvision state_dict keys. */
  tensors: Map<string, RawTensor>;
}

export class WeightsError extends Error {
  constructor(
    message: string,
    /** Machine-readable problems, e.g. [{layer, weight, expected, found}]. */
    readonly problems: Record<string, unknown>[] = [],
  ) {
    super(message);
    this.name = 'WeightsError';
  }
}
