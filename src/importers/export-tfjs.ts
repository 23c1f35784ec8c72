/**
 * Graph → a TensorFlow.js layers-model `model.json` whose topology is a Keras 2 (tf.keras 2.x)
 * Functional config with our layer names, so the model can be loaded by tfjs (`tf.models.modelFromJSON`,
 * `tf.loadLayersModel`) and by Keras, and read back by graphFromTfjsModelJson.
 *
 * What Keras has no layer for is rewritten only where the result computes exactly the same thing:
 * - explicit padding on a conv → ZeroPadding2D `<name>_pad`, then the conv with "valid";
 * - explicit padding on a pool → "same" when it equals TensorFlow's same padding for that input
 *   (TF pools ignore padded cells, as our max pool and count-excluding average pool do);
 *   else ZeroPadding2D `<name>_pad` + "valid" pool for an average pool that counts the padding, or
 *   for a max pool whose input cannot be negative (after ReLU, sigmoid, softmax, or pooling /
 *   concatenating / adding such tensors), where a zero pad never wins the max;
 * - ceil mode → dropped when it gives the same output size as floor mode (the windows are the same);
 * - a one-input concat → no layer (it is its input);
 * - conv2d with groups = input channels → DepthwiseConv2D (depth_multiplier = filters / channels);
 *   other groups > 1 → Conv2D `groups` (Keras ≥ 2.3; tfjs-layers ignores it).
 * Anything else is refused with a 422 NOT_EXPRESSIBLE_IN_KERAS naming every layer: ceil-mode pools
 * that change the output size, scaled adds (Inception-ResNet), padded pools of other kinds, dilated
 * convs with strides > 1 (Keras refuses them).
 *
 * The weightsManifest lists the weights a shard set for this topology must hold (names and shapes,
 * Keras order) with no shard paths: this writes the architecture, not weights.
 */
import { outputLength, resolvePads, type Pads } from '../analysis/geometry.js';
import { inferShapes } from '../analysis/shapes.js';
import { AppError } from '../errors.js';
import { INPUT_NAME, type Graph, type GraphNode, type GraphNodeOf, type Padding, type TensorShape } from '../spec/types.js';

/** The config dialect written: tf.keras 2.15's (the last Keras 2); Keras 3 reads it as a legacy config. */
const KERAS_DIALECT = '2.15.0';

type Json = Record<string, unknown>;

export interface TfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: { class_name: 'Functional'; config: Json; keras_version: string; backend: string };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' }[] }[];
}

interface Refusal {
  layer: string;
  specPath: string;
  why: string;
}

const base = (name: string) => ({ name, trainable: true, dtype: 'float32' });
const initializer = (class_name: string, config: Json = {}) => ({ class_name, config });
const glorot = () => initializer('GlorotUniform', { seed: null });
const noRegularisers = (...keys: string[]) => Object.fromEntries(keys.map((k) => [k, null]));

/** Which tensors cannot hold negative values, in execution order (for zero-padding max pools). */
function nonNegativeTensors(graph: Graph): Set<string> {
  const out = new Set<string>();
  for (const n of graph.nodes) {
    const all = n.inputs.every((i) => out.has(i));
    let ok = false;
    switch (n.kind) {
      case 'activation':
        ok = ['relu', 'relu6', 'sigmoid', 'softmax'].includes(n.attrs.function);
        break;
      case 'dense':
        ok = ['relu', 'relu6', 'sigmoid', 'softmax'].includes(n.attrs.activation);
        break;
      case 'maxpool':
      case 'avgpool':
      case 'globalavgpool':
      case 'globalmaxpool':
      case 'dropout':
      case 'zeropad':
      case 'flatten':
      case 'concat':
        ok = all;
        break;
      case 'add':
        ok = all && n.attrs.scale >= 0;
        break;
      default:
        ok = false;
    }
    if (ok) out.add(n.name);
  }
  return out;
}

const samePads = (a: Pads, b: Pads) => a.top === b.top && a.bottom === b.bottom && a.left === b.left && a.right === b.right;
const explicitTotal = (p: Extract<Padding, { mode: 'explicit' }>) => p.top + p.bottom + p.left + p.right;

export function tfjsModelJsonFromGraph(graph: Graph): TfjsModelJson {
  const shaped = inferShapes(graph);
  const nonNegative = nonNegativeTensors(graph);
  const taken = new Set<string>([INPUT_NAME, ...graph.nodes.map((n) => n.name)]);
  const refusals: Refusal[] = [];
  const refuse = (node: GraphNode, why: string) => refusals.push({ layer: node.name, specPath: node.specPath, why });
  /** Our node name → the exported layer holding its output (differs only for one-input concats). */
  const alias = new Map<string, string>([[INPUT_NAME, INPUT_NAME]]);
  const src = (name: string) => alias.get(name) ?? name;
  const weights: TfjsModelJson['weightsManifest'][0]['weights'] = [];

  const layers: Json[] = [{
    class_name: 'InputLayer',
    config: { batch_input_shape: [null, ...graph.input], dtype: 'float32', sparse: false, ragged: false, name: INPUT_NAME },
    name: INPUT_NAME,
    inbound_nodes: [],
  }];
  const emit = (class_name: string, name: string, config: Json, inputs: string[]) => {
    layers.push({ class_name, config: { ...base(name), ...config }, name, inbound_nodes: [inputs.map((i) => [i, 0, 0, {}])] });
    return name;
  };
  /** A ZeroPadding2D `<name>_pad` in front of a layer; returns what the layer should read. */
  const padFirst = (node: GraphNode, input: string, p: Pads): string => {
    const padName = `${node.name}_pad`;
    if (taken.has(padName)) {
      refuse(node, `needs a ZeroPadding2D named ${padName}, which is already a layer name`);
      return input;
    }
    taken.add(padName);
    return emit('ZeroPadding2D', padName, { padding: [[p.top, p.bottom], [p.left, p.right]], data_format: 'channels_last' }, [input]);
  };

  const exportPool = (node: GraphNodeOf<'maxpool'> | GraphNodeOf<'avgpool'>, x: string, inShape: TensorShape): void => {
    const a = node.attrs;
    const hw: [number, number] = [inShape[0], inShape[1]];
    const pads = resolvePads(a.padding, hw, a.pool, a.strides);
    if (a.ceilMode) {
      const floor = [0, 1].map((k) => outputLength(hw[k], a.pool[k], a.strides[k], 1, k ? pads.left : pads.top, k ? pads.right : pads.bottom, false));
      const ceil = [0, 1].map((k) => outputLength(hw[k], a.pool[k], a.strides[k], 1, k ? pads.left : pads.top, k ? pads.right : pads.bottom, true));
      if (floor[0] !== ceil[0] || floor[1] !== ceil[1]) {
        refuse(node, `ceil mode gives ${ceil.join('x')} where Keras pooling gives ${floor.join('x')}`);
        return;
      }
    }
    let input = x;
    let padding: 'same' | 'valid' = a.padding.mode === 'same' ? 'same' : 'valid';
    if (a.padding.mode === 'explicit' && explicitTotal(a.padding) > 0) {
      const excludesPadding = node.kind === 'maxpool' || !a.countIncludePad;
      if (excludesPadding && samePads(pads, resolvePads({ mode: 'same' }, hw, a.pool, a.strides))) {
        padding = 'same';
      } else if ((node.kind === 'maxpool' && nonNegative.has(node.inputs[0])) || (node.kind === 'avgpool' && a.countIncludePad)) {
        input = padFirst(node, x, pads);
      } else {
        refuse(node, node.kind === 'maxpool'
          ? `explicit padding ${JSON.stringify(pads)} on a max pool over a tensor that may be negative (a zero pad could win the max)`
          : `explicit padding ${JSON.stringify(pads)} on an average pool that excludes padding from the count`);
        return;
      }
    }
    const cls = node.kind === 'maxpool' ? 'MaxPooling2D' : 'AveragePooling2D';
    emit(cls, node.name, { pool_size: a.pool, padding, strides: a.strides, data_format: 'channels_last' }, [input]);
  };

  for (const { node, inputShapes, weights: ws } of shaped.nodes) {
    const x = src(node.inputs[0]);
    const name = node.name;
    const inShape = inputShapes[0];
    let weightLayout = ws.map((w) => ({ name: `${name}/${w.name}`, shape: w.shape, dtype: 'float32' as const }));
    switch (node.kind) {
      case 'conv2d': {
        const a = node.attrs;
        if ((a.dilation[0] > 1 || a.dilation[1] > 1) && (a.strides[0] > 1 || a.strides[1] > 1)) {
          refuse(node, `dilation ${a.dilation.join('x')} with strides ${a.strides.join('x')} (Keras refuses strides > 1 with dilation_rate > 1)`);
          break;
        }
        let input = x;
        // Explicit padding (zero or not) leaves the conv itself "valid".
        const padding = a.padding.mode === 'same' ? 'same' : 'valid';
        if (a.padding.mode === 'explicit' && explicitTotal(a.padding) > 0) input = padFirst(node, x, a.padding);
        const common = {
          kernel_size: a.kernel, strides: a.strides, padding, data_format: 'channels_last', dilation_rate: a.dilation,
          activation: 'linear', use_bias: a.bias, bias_initializer: initializer('Zeros'),
          ...noRegularisers('bias_regularizer', 'activity_regularizer', 'bias_constraint'),
        };
        const cin = inShape[2];
        if (a.groups > 1 && a.groups === cin) {
          const m = a.filters / cin;
          emit('DepthwiseConv2D', name, {
            ...common, depth_multiplier: m, depthwise_initializer: glorot(),
            ...noRegularisers('depthwise_regularizer', 'depthwise_constraint'),
          }, [input]);
          weightLayout = [{ name: `${name}/depthwise_kernel`, shape: [a.kernel[0], a.kernel[1], cin, m], dtype: 'float32' }, ...weightLayout.slice(1)];
        } else {
          emit('Conv2D', name, {
            filters: a.filters, ...common, groups: a.groups, kernel_initializer: glorot(),
            ...noRegularisers('kernel_regularizer', 'kernel_constraint'),
          }, [input]);
        }
        break;
      }
      case 'batchnorm':
        emit('BatchNormalization', name, {
          axis: -1, momentum: 0.99, epsilon: node.attrs.epsilon, center: node.attrs.center, scale: node.attrs.scale,
          beta_initializer: initializer('Zeros'), gamma_initializer: initializer('Ones'),
          moving_mean_initializer: initializer('Zeros'), moving_variance_initializer: initializer('Ones'),
          ...noRegularisers('beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint'),
        }, [x]);
        break;
      case 'activation':
        // relu6 is not a Keras 2 activation name; ReLU(max_value=6) is, in Keras and tfjs alike.
        if (node.attrs.function === 'relu6') emit('ReLU', name, { max_value: 6, negative_slope: 0, threshold: 0 }, [x]);
        else emit('Activation', name, { activation: node.attrs.function }, [x]);
        break;
      case 'zeropad': {
        const p = node.attrs.padding;
        emit('ZeroPadding2D', name, { padding: [[p.top, p.bottom], [p.left, p.right]], data_format: 'channels_last' }, [x]);
        break;
      }
      case 'maxpool':
      case 'avgpool':
        exportPool(node, x, inShape);
        break;
      case 'globalavgpool':
        emit('GlobalAveragePooling2D', name, { data_format: 'channels_last', keepdims: false }, [x]);
        break;
      case 'globalmaxpool':
        emit('GlobalMaxPooling2D', name, { data_format: 'channels_last', keepdims: false }, [x]);
        break;
      case 'flatten':
        emit('Flatten', name, { data_format: 'channels_last' }, [x]);
        break;
      case 'dense':
        emit('Dense', name, {
          units: node.attrs.units, activation: node.attrs.activation, use_bias: node.attrs.bias,
          kernel_initializer: glorot(), bias_initializer: initializer('Zeros'),
          ...noRegularisers('kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'),
        }, [x]);
        break;
      case 'dropout':
        emit('Dropout', name, { rate: node.attrs.rate, noise_shape: null, seed: null }, [x]);
        break;
      case 'add':
        if (node.attrs.scale !== 1) refuse(node, `a scaled add (x + ${node.attrs.scale}·y) has no Keras layer (Keras Applications use a Lambda or custom layer)`);
        else emit('Add', name, {}, node.inputs.map(src));
        break;
      case 'concat':
        if (node.inputs.length === 1) alias.set(name, x);
        else emit('Concatenate', name, { axis: -1 }, node.inputs.map(src));
        break;
    }
    weights.push(...weightLayout);
  }

  if (refusals.length) {
    throw new AppError(422, 'NOT_EXPRESSIBLE_IN_KERAS',
      `cannot be written as a Keras/tfjs layers model: ${refusals.map((r) => `${r.specPath} (${r.layer}): ${r.why}`).join('; ')}`,
      { field: refusals[0].specPath, received: refusals.map((r) => r.layer), expected: 'layers Keras can express exactly', refusals });
  }

  return {
    format: 'layers-model',
    generatedBy: 'convnet-serve',
    convertedBy: null,
    modelTopology: {
      class_name: 'Functional',
      config: { name: graph.name, layers, input_layers: [[INPUT_NAME, 0, 0]], output_layers: [[src(graph.output), 0, 0]] },
      keras_version: KERAS_DIALECT,
      backend: 'tensorflow',
    },
    weightsManifest: [{ paths: [], weights }],
  };
}
