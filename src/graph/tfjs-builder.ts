/**
 * Graph → tf.LayersModel. One tfjs layer per spec layer, carrying the spec's name, so weights bind
 * by name and the analyzer's shapes and parameter counts can be checked against tfjs' own
 * (`outputShape`, `countParams()`). Where tfjs-layers has no equivalent (explicit padding, ceil-mode
 * and padded pools, scaled adds) a helper layer named `<name>_pad` or a custom layer is used.
 * Weights start at zero (cheap to allocate); real values are bound afterwards by the loaders.
 */
import { finalSoftmax } from './final-softmax.js';
import * as tf from '@tensorflow/tfjs';
import { resolvePads } from '../analysis/geometry.js';
import { inferShapes, type ShapedGraph } from '../analysis/shapes.js';
import { AppError } from '../errors.js';
import { INPUT_NAME, type Graph, type GraphNode, type Padding } from '../spec/types.js';
import { PaddedPool2D, ScaledAdd } from './custom-layers.js';

export interface BuiltModel {
  model: tf.LayersModel;
  shaped: ShapedGraph;
  /** True when the spec's final softmax was left out so the model outputs logits. */
  strippedSoftmax: boolean;
}

export class UnsupportedLayerError extends AppError {
  constructor(node: GraphNode, why: string) {
    super(422, 'UNSUPPORTED_BY_ENGINE', `${node.specPath} (${node.name}): ${why}`, { field: node.specPath, layer: node.name });
  }
}

type SymbolicTensor = tf.SymbolicTensor;

const zeros = { kernelInitializer: 'zeros', biasInitializer: 'zeros' } as const;

/** tfjs-layers pads only 'same' or 'valid'; explicit padding becomes a zeroPadding2d before the layer. */
function padFirst(x: SymbolicTensor, node: GraphNode, padding: Padding): { input: SymbolicTensor; mode: 'same' | 'valid' } {
  if (padding.mode !== 'explicit') return { input: x, mode: padding.mode };
  const { top, bottom, left, right } = padding;
  if (top + bottom + left + right === 0) return { input: x, mode: 'valid' };
  const pad = tf.layers.zeroPadding2d({ name: `${node.name}_pad`, padding: [[top, bottom], [left, right]] });
  return { input: pad.apply(x) as SymbolicTensor, mode: 'valid' };
}

function buildLayer(node: GraphNode, inputs: SymbolicTensor[], shaped: ShapedGraph, finalLinear: boolean): SymbolicTensor {
  const x = inputs[0];
  const name = node.name;
  switch (node.kind) {
    case 'conv2d': {
      const a = node.attrs;
      if (a.groups !== 1) throw new UnsupportedLayerError(node, `groups=${a.groups} is not supported by the tfjs engine (analysis only)`);
      const { input, mode } = padFirst(x, node, a.padding);
      return tf.layers.conv2d({ name, filters: a.filters, kernelSize: a.kernel, strides: a.strides, padding: mode, dilationRate: a.dilation, useBias: a.bias, ...zeros }).apply(input) as SymbolicTensor;
    }
    case 'batchnorm':
      return tf.layers.batchNormalization({
        name, axis: -1, epsilon: node.attrs.epsilon, center: node.attrs.center, scale: node.attrs.scale,
        gammaInitializer: 'ones', betaInitializer: 'zeros', movingMeanInitializer: 'zeros', movingVarianceInitializer: 'ones',
      }).apply(x) as SymbolicTensor;
    case 'activation':
      return tf.layers.activation({ name, activation: finalLinear ? 'linear' : node.attrs.function }).apply(x) as SymbolicTensor;
    case 'zeropad': {
      const p = node.attrs.padding;
      return tf.layers.zeroPadding2d({ name, padding: [[p.top, p.bottom], [p.left, p.right]] }).apply(x) as SymbolicTensor;
    }
    case 'maxpool':
    case 'avgpool': {
      const a = node.attrs;
      const plain = a.padding.mode !== 'explicit' || (a.padding.top + a.padding.bottom + a.padding.left + a.padding.right === 0);
      if (plain && !a.ceilMode) {
        const make = node.kind === 'maxpool' ? tf.layers.maxPooling2d : tf.layers.averagePooling2d;
        return make({ name, poolSize: a.pool, strides: a.strides, padding: a.padding.mode === 'same' ? 'same' : 'valid' }).apply(x) as SymbolicTensor;
      }
      const inShape = shaped.shapes.get(node.inputs[0])!;
      const pads = resolvePads(a.padding, [inShape[0], inShape[1]], a.pool, a.strides);
      return new PaddedPool2D({ name, mode: node.kind === 'maxpool' ? 'max' : 'avg', pool: a.pool, strides: a.strides, pads, ceilMode: a.ceilMode, countIncludePad: a.countIncludePad }).apply(x) as SymbolicTensor;
    }
    case 'globalavgpool':
      return tf.layers.globalAveragePooling2d({ name }).apply(x) as SymbolicTensor;
    case 'globalmaxpool':
      return tf.layers.globalMaxPooling2d({ name }).apply(x) as SymbolicTensor;
    case 'flatten':
      return tf.layers.flatten({ name }).apply(x) as SymbolicTensor;
    case 'dense':
      return tf.layers.dense({ name, units: node.attrs.units, useBias: node.attrs.bias, activation: finalLinear ? 'linear' : node.attrs.activation, ...zeros }).apply(x) as SymbolicTensor;
    case 'dropout':
      return tf.layers.dropout({ name, rate: node.attrs.rate }).apply(x) as SymbolicTensor;
    case 'add':
      return node.attrs.scale === 1
        ? (tf.layers.add({ name }).apply(inputs) as SymbolicTensor)
        : (new ScaledAdd({ name, scale: node.attrs.scale }).apply(inputs) as SymbolicTensor);
    case 'concat':
      return inputs.length === 1 ? x : (tf.layers.concatenate({ name, axis: -1 }).apply(inputs) as SymbolicTensor);
  }
}


export function buildTfjsModel(graph: Graph, options: { logits?: boolean } = {}): BuiltModel {
  const shaped = inferShapes(graph);
  const softmax = options.logits ? finalSoftmax(graph) : undefined;
  const input = tf.input({ name: INPUT_NAME, shape: graph.input });
  const tensors = new Map<string, SymbolicTensor>([[INPUT_NAME, input]]);
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((n) => tensors.get(n)!);
    tensors.set(node.name, buildLayer(node, inputs, shaped, node === softmax));
  }
  const model = tf.model({ inputs: input, outputs: tensors.get(graph.output)!, name: graph.name });
  return { model, shaped, strippedSoftmax: softmax !== undefined };
}
