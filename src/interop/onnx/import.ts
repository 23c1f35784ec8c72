/**
 * ONNX models → our Graph (and, for serving, their weights in our layout), so that what leaves
 * PyTorch (`torch.onnx.export`) can be analysed and served as it is. One handler per ONNX op type
 * maps a node to our layer kinds; anything else is refused with every op type and node listed.
 *
 * ONNX tensors are NCHW; our graph is NHWC-semantic. A feature map keeps its meaning (the same
 * per-image [H, W, C] whatever the memory order), so convs, pools and element-wise ops map
 * directly; what depends on the order is handled where it happens:
 * - Flatten/Reshape of a C×H×W map to a vector gives ONNX's channel-major order; we flatten in
 *   H, W, C order and reorder the rows of the dense layer that reads it (exactly the same product);
 * - Transpose is read where exporters put it: NHWC input → NCHW ([0, 3, 1, 2]) and back before a
 *   flatten ([0, 2, 3, 1]), as our own ONNX export does;
 * - per-channel constants ([C, 1, 1]) broadcast over the channel axis.
 * Constant shape arithmetic (Shape, Gather, Unsqueeze, Concat, … feeding Reshape) is folded away.
 * Weights are read from initializers; a graph exported with `export_params=False` has them as
 * graph inputs with shapes only, which is enough to analyse it.
 */
import { AppError, SpecLimitError } from '../../errors.js';
import { makeActivation } from '../../spec/activations.js';
import { resolvePads } from '../../spec/geometry.js';
import { DEFAULT_SPEC_LIMITS, type SpecLimits } from '../../spec/normalize.js';
import { shapeNode } from '../../spec/shapes.js';
import {
  INPUT_NAME,
  type Activation,
  type BoundWeight,
  type Graph,
  type GraphNode,
  type LeafAttrsByKind,
  type LeafKind,
  type Padding,
  type Shape3,
  type TensorShape,
} from '../../spec/types.js';
import { detectBlocks } from '../blocks.js';
import { permute } from '../../weights/permute.js';
import { ONNX_INT32, ONNX_INT64, type OnnxModel, type OnnxNode, type OnnxTensor } from './read.js';
import { defined, lookup } from '../../invariant.js';

type Layout = 'nchw' | 'nhwc' | 'flat';

interface TensorValue {
  t: 'tensor';
  /** Our graph node holding it (or INPUT_NAME). */
  node: string;
  shape: TensorShape;
  layout: Layout;
  /** A vector flattened from a [C, H, W] map in ONNX's channel-major order (ours is H, W, C). */
  chw?: [number, number, number];
}
interface ConstValue {
  t: 'const';
  tensor: OnnxTensor;
}
/** Integers known at import (shape arithmetic); null stands for the batch size. */
interface IntsValue {
  t: 'ints';
  values: (number | null)[];
  scalar: boolean;
}
type Value = TensorValue | ConstValue | IntsValue;

export interface OnnxImportOptions {
  limits?: SpecLimits;
  /** [H, W, C] to analyse at, for models whose input sizes are symbolic (or to override them). */
  input?: Shape3;
}

export interface OnnxImport {
  graph: Graph;
  /** True when every weight's values are in the file (not so after export_params=False). */
  hasWeights: boolean;
  /** The weights in our layout, by our layer names (copied out of the file when called). */
  weights(): BoundWeight[];
}

interface WeightPlan {
  weight: string;
  source: OnnxTensor;
  shape: number[];
  convert?: (data: Float32Array) => Float32Array;
}

interface Problem {
  opType: string;
  node: string;
  why: string;
}

class UnsupportedHere extends Error {}

/** Refuses the node being read, saying why; collected, so every problem is listed at once. */
function unsupported(why: string): never {
  throw new UnsupportedHere(why);
}

const OIHW_TO_HWIO = [2, 3, 1, 0];

class Importer {
  readonly nodes: GraphNode[] = [];
  readonly values = new Map<string, Value>();
  readonly weights = new Map<string, WeightPlan[]>();
  readonly problems: Problem[] = [];
  readonly readers = new Map<string, number>();
  private readonly taken = new Set<string>([INPUT_NAME]);
  private readonly shapes = new Map<string, TensorShape>();
  /** Dense layers made from MatMul, whose bias a following Add may supply. */
  readonly matmulDense = new Set<string>();
  node!: OnnxNode;
  index = 0;

  constructor(
    readonly model: OnnxModel,
    readonly limits: SpecLimits,
  ) {
    for (const n of model.nodes)
      for (const i of n.inputs) if (i) this.readers.set(i, (this.readers.get(i) ?? 0) + 1);
  }

  get at(): string {
    return `graph.node[${this.index}]`;
  }

  // --- values -------------------------------------------------------------------------------

  value(name: string): Value {
    const v = this.values.get(name);
    if (!v) unsupported(`reads ${JSON.stringify(name)}, which no supported node produced`);
    return v;
  }

  tensor(i: number): TensorValue {
    const v = this.value(this.node.inputs[i]);
    if (v.t !== 'tensor')
      unsupported(`input ${i} (${this.node.inputs[i]}) is a constant where a tensor is expected`);
    if (v.chw && !['Gemm', 'MatMul', 'Dropout'].includes(this.node.opType)) {
      unsupported(
        `reads a vector flattened in channel-major order (C, H, W), which only a Gemm or MatMul (after Dropout) can read here`,
      );
    }
    return v;
  }

  constTensor(i: number, what: string): OnnxTensor {
    const v = this.values.get(this.node.inputs[i]);
    if (v?.t !== 'const') unsupported(`${what} (input ${i}) must be a constant or an initializer`);
    return v.tensor;
  }

  /** A constant's values as integers (shape data, pads, axes). */
  ints(i: number, what: string): number[] {
    const v = this.values.get(this.node.inputs[i]);
    if (v?.t === 'ints' && v.values.every((x): x is number => x !== null)) return v.values;
    if (v?.t === 'const' && v.tensor.hasData) return v.tensor.ints();
    return unsupported(`${what} (input ${i}) must be a constant known at import`);
  }

  /** A shape target: integers known at import, where the first (the batch) may be unknown. */
  shapeTarget(i: number): number[] {
    const v = this.values.get(this.node.inputs[i]);
    if (v?.t === 'ints' && v.values.slice(1).every((x): x is number => x !== null))
      return [v.values[0] ?? 0, ...(v.values.slice(1) as number[])];
    return this.ints(i, 'the target shape');
  }

  /** A small float constant's values (scales, offsets, clip bounds). */
  floats(i: number, what: string): number[] {
    const v = this.values.get(this.node.inputs[i]);
    if (v?.t === 'ints' && v.values.every((x): x is number => x !== null)) return v.values;
    if (v?.t === 'const' && v.tensor.hasData) return Array.from(v.tensor.floats());
    return unsupported(`${what} (input ${i}) must be a constant whose values are in the file`);
  }

  has(i: number): boolean {
    return this.node.inputs.length > i && this.node.inputs[i] !== '';
  }

  setOutput(v: Value, index = 0): void {
    this.values.set(this.node.outputs[index], v);
  }

  // --- attributes -----------------------------------------------------------------------------

  int(name: string, fallback: number): number {
    const a = this.node.attrs.get(name);
    return a?.type === 'int' ? a.value : fallback;
  }

  float(name: string, fallback: number): number {
    const a = this.node.attrs.get(name);
    return a?.type === 'float' ? a.value : fallback;
  }

  intList(name: string, fallback: number[]): number[] {
    const a = this.node.attrs.get(name);
    return a?.type === 'ints' ? a.value : fallback;
  }

  string(name: string, fallback: string): string {
    const a = this.node.attrs.get(name);
    return a?.type === 'string' ? a.value : fallback;
  }

  // --- our graph ------------------------------------------------------------------------------

  /** A unique name: the module path of the node's weight when it has one, else the ONNX node's name. */
  nameFor(weight?: OnnxTensor): string {
    const module =
      weight && !weight.name.includes('::')
        ? /^(.+)\.(weight|bias|scale)$/.exec(weight.name)?.[1]
        : undefined;
    const base =
      module ??
      (this.node.name.replace(/^\/+/, '') || this.node.outputs[0] || `${this.node.opType}_${this.index}`);
    let name = base;
    for (let i = 1; this.taken.has(name); i++) name = `${base}_${i}`;
    this.taken.add(name);
    return name;
  }

  emit<K extends LeafKind>(
    kind: K,
    attrs: LeafAttrsByKind[K],
    inputs: TensorValue[],
    name: string,
    layout: Layout,
  ): TensorValue {
    if (this.nodes.length >= this.limits.maxLayers)
      throw new SpecLimitError(
        this.at,
        `more than ${this.limits.maxLayers} layers`,
        `at most ${this.limits.maxLayers} layers`,
      );
    const node = {
      name,
      kind,
      attrs,
      inputs: inputs.map((i) => i.node),
      blockPath: [],
      specPath: `${this.at} (${this.node.opType} ${this.node.name || this.node.outputs[0]})`,
    } as GraphNode;
    const { outputShape } = shapeNode(
      node,
      inputs.map((i) => i.shape),
    );
    this.nodes.push(node);
    this.shapes.set(name, outputShape);
    return { t: 'tensor', node: name, shape: outputShape, layout };
  }

  plan(node: string, plans: WeightPlan[]): void {
    this.weights.set(node, plans);
  }

  activation(a: Activation): void {
    const x = this.tensor(0);
    this.setOutput(this.emit('activation', a, [x], this.nameFor(), x.layout));
  }
}

/** What an ONNX pad list [top, left, bottom, right] and auto_pad mean as our padding. */
function convPadding(
  im: Importer,
  inHW: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number],
): Padding {
  const auto = im.string('auto_pad', 'NOTSET');
  if (auto === 'VALID') return { mode: 'valid' };
  if (auto === 'SAME_UPPER') return { mode: 'same' };
  if (auto === 'SAME_LOWER') {
    // TensorFlow's "same" puts the odd pixel at the end; SAME_LOWER puts it at the beginning.
    const p = resolvePads({ mode: 'same' }, inHW, kernel, strides, dilation);
    return { mode: 'explicit', top: p.bottom, bottom: p.top, left: p.right, right: p.left };
  }
  if (auto !== 'NOTSET' && auto !== '') unsupported(`auto_pad ${auto}`);
  const pads = im.intList('pads', [0, 0, 0, 0]);
  if (pads.length !== 4 || pads.some((p) => p < 0))
    unsupported(`pads ${JSON.stringify(pads)} (expected four non-negative values for 2-D)`);
  const [top, left, bottom, right] = pads;
  return top + left + bottom + right === 0
    ? { mode: 'valid' }
    : { mode: 'explicit', top, bottom, left, right };
}

function featureMap(im: Importer, x: TensorValue): [number, number, number] {
  if (x.layout !== 'nchw' || x.shape.length !== 3)
    unsupported(`needs an N×C×H×W feature map; received ${x.layout} ${JSON.stringify(x.shape)}`);
  void im;
  return x.shape as [number, number, number];
}

/** A constant as per-channel values for a tensor: one value, or C values shaped to broadcast over channels. */
function channelValues(x: TensorValue, c: OnnxTensor, values: number[]): number[] | undefined {
  const channels = x.shape[x.shape.length - 1];
  if (values.length === 1) return values;
  const dims = c.dims;
  const ones = (d: number[]) => d.every((v) => v === 1);
  if (values.length !== channels) return undefined;
  if (x.layout === 'nchw') {
    // [C, 1, 1] or [1, C, 1, 1] broadcast over channels.
    if (
      (dims.length === 3 && ones(dims.slice(1))) ||
      (dims.length === 4 && dims[0] === 1 && ones(dims.slice(2)))
    )
      return values;
    return undefined;
  }
  if (x.layout === 'flat' && (dims.length === 1 || (dims.length === 2 && dims[0] === 1))) return values;
  return undefined;
}

type Arithmetic = 'Add' | 'Sub' | 'Mul' | 'Div';

/** x ⊕ c (a scalar or per-channel constant) as rescaling; x + y and x · y of two tensors as add / multiply. */
function arithmetic(op: Arithmetic) {
  return (im: Importer) => {
    const [a, b] = [im.value(im.node.inputs[0]), im.value(im.node.inputs[1])];
    if (a.t === 'ints' && b.t === 'ints') return foldInts(im, op, a, b);
    if (a.t === 'tensor' && b.t === 'tensor') {
      if (op === 'Sub' || op === 'Div') unsupported(`${op} of two tensors`);
      const x = im.tensor(0);
      const y = im.tensor(1);
      if (x.layout !== y.layout) unsupported(`${op} of a ${x.layout} and a ${y.layout} tensor`);
      im.setOutput(
        op === 'Add'
          ? im.emit('add', { scale: 1 }, [x, y], im.nameFor(), x.layout)
          : im.emit('multiply', {}, [x, y], im.nameFor(), x.layout),
      );
      return;
    }
    const tensorFirst = a.t === 'tensor';
    const x = im.tensor(tensorFirst ? 0 : 1);
    const c = im.constTensor(tensorFirst ? 1 : 0, 'the constant operand');
    // MatMul then Add of a vector: the dense layer's bias.
    if (
      op === 'Add' &&
      im.matmulDense.has(x.node) &&
      im.readers.get(im.node.inputs[tensorFirst ? 0 : 1]) === 1 &&
      c.dims.reduce((p, d) => p * d, 1) === x.shape[0]
    ) {
      const dense = defined(
        im.nodes.find((n) => n.name === x.node),
        `the dense node ${x.node}`,
      );
      if (dense.kind === 'dense' && !dense.attrs.bias) {
        dense.attrs = { ...dense.attrs, bias: true };
        lookup(im.weights, dense.name, 'weight list').push({
          weight: 'bias',
          source: c,
          shape: [x.shape[0]],
        });
        im.matmulDense.delete(x.node);
        im.setOutput(x);
        return;
      }
    }
    const values = channelValues(x, c, im.floats(tensorFirst ? 1 : 0, 'the constant operand'));
    if (!values)
      unsupported(`${op} with a constant of shape ${JSON.stringify(c.dims)} (one value, or one per channel)`);
    let scale: number[];
    let offset: number[];
    switch (op) {
      case 'Add':
        [scale, offset] = [[1], values];
        break;
      case 'Sub':
        [scale, offset] = tensorFirst ? [[1], values.map((v) => -v)] : [[-1], values];
        break;
      case 'Mul':
        [scale, offset] = [values, [0]];
        break;
      case 'Div':
        if (!tensorFirst || values.some((v) => v === 0))
          unsupported('Div other than a tensor by non-zero constants');
        [scale, offset] = [values.map((v) => 1 / v), [0]];
        break;
    }
    im.setOutput(im.emit('rescaling', { scale, offset }, [x], im.nameFor(), x.layout));
  };
}

function foldInts(im: Importer, op: Arithmetic, a: IntsValue, b: IntsValue): void {
  const n = Math.max(a.values.length, b.values.length);
  const at = (v: IntsValue, i: number) => (v.values.length === 1 ? v.values[0] : v.values[i]);
  const values = Array.from({ length: n }, (_, i) => {
    const x = at(a, i);
    const y = at(b, i);
    if (x === null || y === null) return null;
    return op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : Math.trunc(x / y);
  });
  im.setOutput({ t: 'ints', values, scalar: a.scalar && b.scalar });
}

/** Flatten of a map to [N, K]: our H, W, C flatten, marked channel-major when ONNX's order differs. */
function flattenTo(im: Importer, x: TensorValue): void {
  if (x.layout === 'flat') {
    im.setOutput(x);
    return;
  }
  const node = im.emit('flatten', {}, [x], im.nameFor(), 'flat');
  const [h, w, c] = x.shape;
  im.setOutput(x.layout === 'nchw' && h * w > 1 ? { ...node, chw: [c, h, w] } : node);
}

function pool(kind: 'maxpool' | 'avgpool') {
  return (im: Importer) => {
    const x = im.tensor(0);
    const [h, w] = featureMap(im, x);
    if (im.node.outputs.length > 1 && im.node.outputs[1] !== '' && im.readers.has(im.node.outputs[1]))
      unsupported('MaxPool indices');
    const kernel = im.intList('kernel_shape', []) as [number, number];
    if (kernel.length !== 2) unsupported(`kernel_shape ${JSON.stringify(kernel)} (2-D pooling)`);
    const strides = im.intList('strides', [1, 1]) as [number, number];
    if (im.intList('dilations', [1, 1]).some((d) => d !== 1)) unsupported('dilated pooling');
    const padding = convPadding(im, [h, w], kernel, strides, [1, 1]);
    const ceilMode = im.int('ceil_mode', 0) === 1;
    if (ceilMode && padding.mode === 'same') unsupported('ceil_mode with auto_pad SAME');
    const countIncludePad = kind === 'avgpool' && im.int('count_include_pad', 0) === 1;
    im.setOutput(
      im.emit(kind, { pool: kernel, strides, padding, ceilMode, countIncludePad }, [x], im.nameFor(), 'nchw'),
    );
  };
}

/** ONNX op type → reader. */
const OPS: Record<string, (im: Importer) => void> = {
  Conv(im) {
    const x = im.tensor(0);
    const [h, w] = featureMap(im, x);
    const weight = im.constTensor(1, 'the kernel W');
    if (weight.dims.length !== 4)
      unsupported(`kernel of shape ${JSON.stringify(weight.dims)} (2-D convolution)`);
    const [filters, perGroup, kh, kw] = weight.dims;
    const groups = im.int('group', 1);
    const strides = im.intList('strides', [1, 1]) as [number, number];
    const dilation = im.intList('dilations', [1, 1]) as [number, number];
    const padding = convPadding(im, [h, w], [kh, kw], strides, dilation);
    const bias = im.has(2) ? im.constTensor(2, 'the bias B') : undefined;
    const name = im.nameFor(weight);
    const out = im.emit(
      'conv2d',
      { filters, kernel: [kh, kw], strides, padding, dilation, groups, bias: bias !== undefined },
      [x],
      name,
      'nchw',
    );
    im.plan(name, [
      {
        weight: 'kernel',
        source: weight,
        shape: [kh, kw, perGroup, filters],
        convert: (d) => permute(d, weight.dims, OIHW_TO_HWIO).data,
      },
      ...(bias ? [{ weight: 'bias', source: bias, shape: [filters] }] : []),
    ]);
    im.setOutput(out);
  },
  BatchNormalization(im) {
    const x = im.tensor(0);
    if (im.int('training_mode', 0) !== 0) unsupported('training_mode 1 (batch statistics)');
    if (im.node.outputs.slice(1).some((o) => o !== '' && im.readers.has(o)))
      unsupported('running statistics as outputs (training mode)');
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) =>
      im.constTensor(i, ['scale', 'B', 'input_mean', 'input_var'][i - 1]),
    );
    const c = x.shape[x.shape.length - 1];
    const name = im.nameFor(scale);
    const out = im.emit(
      'batchnorm',
      { epsilon: im.float('epsilon', 1e-5), center: true, scale: true },
      [x],
      name,
      x.layout,
    );
    im.plan(name, [
      { weight: 'gamma', source: scale, shape: [c] },
      { weight: 'beta', source: bias, shape: [c] },
      { weight: 'moving_mean', source: mean, shape: [c] },
      { weight: 'moving_variance', source: variance, shape: [c] },
    ]);
    im.setOutput(out);
  },
  Relu: (im) => im.activation({ function: 'relu' }),
  Sigmoid: (im) => im.activation({ function: 'sigmoid' }),
  Tanh: (im) => im.activation({ function: 'tanh' }),
  HardSigmoid: (im) =>
    im.activation({ function: 'hard_sigmoid', alpha: im.float('alpha', 0.2), beta: im.float('beta', 0.5) }),
  HardSwish: (im) => im.activation({ function: 'hard_swish' }),
  LeakyRelu: (im) => im.activation({ function: 'leaky_relu', alpha: im.float('alpha', 0.01) }),
  Elu: (im) => im.activation({ function: 'elu', alpha: im.float('alpha', 1) }),
  Clip(im) {
    // Opset 11+ gives the bounds as inputs (often Constant nodes), earlier opsets as attributes.
    const min = im.has(1) ? im.floats(1, 'min')[0] : im.float('min', Number.NEGATIVE_INFINITY);
    const max = im.has(2) ? im.floats(2, 'max')[0] : im.float('max', Number.POSITIVE_INFINITY);
    if (min === 0 && max === 6) return im.activation({ function: 'relu6' });
    if (min === 0 && max === Number.POSITIVE_INFINITY) return im.activation({ function: 'relu' });
    if (!Number.isFinite(min) || !Number.isFinite(max)) unsupported(`Clip to [${min}, ${max}]`);
    im.activation(makeActivation('clip', { min, max }, im.at));
  },
  Softmax(im) {
    const x = im.tensor(0);
    const rank = x.shape.length + 1;
    const axis = im.int('axis', im.model.opset >= 13 ? -1 : 1);
    const channel = x.layout === 'flat' ? axis === 1 || axis === -1 : axis === 1 || axis === -3;
    // Before opset 13 softmax flattens from `axis`: over C, H, W together unless H = W = 1.
    const flattening = im.model.opset < 13 && x.layout === 'nchw' && x.shape[0] * x.shape[1] > 1;
    if (!channel || flattening)
      unsupported(`Softmax over axis ${axis} of a rank-${rank} tensor (only over channels)`);
    im.activation({ function: 'softmax' });
  },
  Add: arithmetic('Add'),
  Sub: arithmetic('Sub'),
  Mul: arithmetic('Mul'),
  Div: arithmetic('Div'),
  Concat(im) {
    const values = im.node.inputs.map((n) => im.value(n));
    if (values.every((v) => v.t === 'ints')) {
      return im.setOutput({
        t: 'ints',
        values: values.flatMap((v) => (v as IntsValue).values),
        scalar: false,
      });
    }
    const xs = im.node.inputs.map((_, i) => im.tensor(i));
    const axis = im.int('axis', 1);
    const layout = xs[0].layout;
    const channel =
      layout === 'nchw' ? axis === 1 || axis === -3 : layout === 'flat' && (axis === 1 || axis === -1);
    if (!channel || xs.some((x) => x.layout !== layout))
      unsupported(`Concat on axis ${axis} of ${layout} tensors (only the channel axis)`);
    im.setOutput(im.emit('concat', {}, xs, im.nameFor(), layout));
  },
  MaxPool: pool('maxpool'),
  AveragePool: pool('avgpool'),
  GlobalAveragePool(im) {
    const x = im.tensor(0);
    featureMap(im, x);
    im.setOutput(im.emit('globalavgpool', { keepdims: true }, [x], im.nameFor(), 'nchw'));
  },
  GlobalMaxPool(im) {
    const x = im.tensor(0);
    featureMap(im, x);
    im.setOutput(im.emit('globalmaxpool', { keepdims: true }, [x], im.nameFor(), 'nchw'));
  },
  ReduceMean(im) {
    const x = im.tensor(0);
    featureMap(im, x);
    const axes = im.has(1) ? im.ints(1, 'axes') : im.intList('axes', []);
    const spatial =
      axes
        .map((a) => (a < 0 ? a + 4 : a))
        .sort()
        .join(',') === '2,3';
    if (!spatial)
      unsupported(
        `ReduceMean over axes ${JSON.stringify(axes)} (only over H and W, as global average pooling)`,
      );
    const keepdims = im.int('keepdims', 1) === 1;
    im.setOutput(im.emit('globalavgpool', { keepdims }, [x], im.nameFor(), keepdims ? 'nchw' : 'flat'));
  },
  Flatten(im) {
    const x = im.tensor(0);
    if (im.int('axis', 1) !== 1)
      unsupported(`Flatten axis ${im.int('axis', 1)} (only 1: keep the batch axis)`);
    flattenTo(im, x);
  },
  Reshape(im) {
    const x = im.tensor(0);
    const raw = im.shapeTarget(1);
    const size = x.shape.reduce((a, b) => a * b, 1);
    // 0 copies the input's size on that axis (allowzero 0), −1 is inferred.
    const onnxIn = x.layout === 'nchw' ? [x.shape[2], x.shape[0], x.shape[1]] : x.shape;
    const dims = raw.map((d, i) => (d === 0 && i > 0 ? onnxIn[i - 1] : d));
    const perImage = dims.slice(1);
    const known = perImage.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const target = perImage.map((d) => (d === -1 ? size / known : d));
    if (target.some((d) => !Number.isInteger(d) || d < 1) || target.reduce((a, b) => a * b, 1) !== size) {
      unsupported(`Reshape of ${JSON.stringify(onnxIn)} to ${JSON.stringify(raw)} per batch`);
    }
    if (target.length === 1) return flattenTo(im, x);
    const [h, w] = x.layout === 'nchw' ? [x.shape[0], x.shape[1]] : [1, 1];
    if (target.length === 3 && target[1] * target[2] === 1 && h * w === 1) {
      // [N, C, 1, 1] is our [1, 1, C]: the same elements in the same order.
      return im.setOutput(im.emit('reshape', { shape: [1, 1, target[0]] }, [x], im.nameFor(), 'nchw'));
    }
    unsupported(
      `Reshape of ${JSON.stringify(onnxIn)} to ${JSON.stringify(raw)} (only to [N, K], or between [N, C] and [N, C, 1, 1])`,
    );
  },
  Transpose(im) {
    const x = im.tensor(0);
    const perm = im.intList('perm', []).join(',');
    if (x.layout === 'nchw' && perm === '0,2,3,1') return im.setOutput({ ...x, layout: 'nhwc' });
    if (x.layout === 'nhwc' && perm === '0,3,1,2') return im.setOutput({ ...x, layout: 'nchw' });
    unsupported(`Transpose ${perm} of an ${x.layout} tensor (only between NCHW and NHWC)`);
  },
  Pad(im) {
    const x = im.tensor(0);
    featureMap(im, x);
    if (im.string('mode', 'constant') !== 'constant') unsupported(`Pad mode ${im.string('mode', '')}`);
    const pads = im.has(1) ? im.ints(1, 'pads') : im.intList('pads', []);
    const value = im.has(2) ? im.floats(2, 'constant_value')[0] : im.float('value', 0);
    if (pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5] || pads.some((p) => p < 0))
      unsupported(`pads ${JSON.stringify(pads)} (only H and W, non-negative)`);
    if (value !== 0) unsupported(`Pad with ${value} (only zeros)`);
    im.setOutput(
      im.emit(
        'zeropad',
        { padding: { mode: 'explicit', top: pads[2], left: pads[3], bottom: pads[6], right: pads[7] } },
        [x],
        im.nameFor(),
        'nchw',
      ),
    );
  },
  Gemm(im) {
    const x = im.tensor(0);
    if (x.layout !== 'flat') unsupported('Gemm of a feature map (flatten it first)');
    if (im.int('transA', 0) !== 0 || im.float('alpha', 1) !== 1 || im.float('beta', 1) !== 1)
      unsupported('Gemm with transA, alpha or beta other than 0, 1, 1');
    const b = im.constTensor(1, 'the weight B');
    const transB = im.int('transB', 0) === 1;
    if (b.dims.length !== 2) unsupported(`weight B of shape ${JSON.stringify(b.dims)}`);
    const [inputs, units] = transB ? [b.dims[1], b.dims[0]] : b.dims;
    const c = im.has(2) ? im.constTensor(2, 'the bias C') : undefined;
    if (c && c.dims.reduce((p, d) => p * d, 1) !== units)
      unsupported(`bias C of shape ${JSON.stringify(c.dims)} (one value per output)`);
    denseFrom(im, x, b, inputs, units, transB, c);
  },
  MatMul(im) {
    const x = im.tensor(0);
    if (x.layout !== 'flat') unsupported('MatMul of a feature map');
    const b = im.constTensor(1, 'the weight');
    if (b.dims.length !== 2) unsupported(`weight of shape ${JSON.stringify(b.dims)}`);
    const node = denseFrom(im, x, b, b.dims[0], b.dims[1], false, undefined);
    im.matmulDense.add(node);
  },
  Dropout(im) {
    const x = im.tensor(0);
    const rate = im.has(1) ? im.floats(1, 'ratio')[0] : im.float('ratio', 0.5);
    // The identity at inference: a channel-major vector stays one.
    im.setOutput({
      ...im.emit('dropout', { rate: Math.min(Math.max(rate, 0), 0.999999) }, [x], im.nameFor(), x.layout),
      ...(x.chw ? { chw: x.chw } : {}),
    });
  },
  Identity: (im) => im.setOutput(im.value(im.node.inputs[0])),
  Cast(im) {
    const v = im.value(im.node.inputs[0]);
    if (v.t === 'tensor' && im.int('to', 1) !== 1)
      unsupported(`Cast of a tensor to type ${im.int('to', 1)} (only float32)`);
    im.setOutput(v);
  },
  Constant(im) {
    const a = [...im.node.attrs.values()][0];
    const name = [...im.node.attrs.keys()][0];
    if (a?.type === 'tensor') {
      const t = a.value;
      im.setOutput(
        t.dataType === ONNX_INT64 || t.dataType === ONNX_INT32
          ? { t: 'ints', values: t.ints(), scalar: t.dims.length === 0 }
          : { t: 'const', tensor: t },
      );
    } else if (a?.type === 'int' || a?.type === 'ints') {
      im.setOutput({ t: 'ints', values: a.type === 'int' ? [a.value] : a.value, scalar: a.type === 'int' });
    } else if (a?.type === 'float' || a?.type === 'floats') {
      const values = a.type === 'float' ? [a.value] : a.value;
      im.setOutput({
        t: 'const',
        tensor: constant(im.node.outputs[0], a.type === 'float' ? [] : [values.length], values),
      });
    } else {
      unsupported(`Constant ${name ?? '(empty)'}`);
    }
  },
  Shape(im) {
    const x = im.tensor(0);
    const dims = x.layout === 'nchw' ? [x.shape[2], x.shape[0], x.shape[1]] : x.shape;
    im.setOutput({ t: 'ints', values: [null, ...dims], scalar: false });
  },
  Gather(im) {
    const data = im.value(im.node.inputs[0]);
    if (data.t !== 'ints' || im.int('axis', 0) !== 0) unsupported('Gather of anything but constant integers');
    const indices = im.ints(1, 'indices');
    const given = im.values.get(im.node.inputs[1]);
    const scalar =
      given?.t === 'ints' ? given.scalar : given?.t === 'const' && given.tensor.dims.length === 0;
    const n = data.values.length;
    im.setOutput({ t: 'ints', values: indices.map((i) => data.values[i < 0 ? i + n : i]), scalar });
  },
  Unsqueeze(im) {
    const data = im.value(im.node.inputs[0]);
    if (data.t !== 'ints') unsupported('Unsqueeze of a tensor');
    im.setOutput({ ...data, scalar: false });
  },
  Squeeze(im) {
    const data = im.value(im.node.inputs[0]);
    if (data.t !== 'ints') unsupported('Squeeze of a tensor');
    im.setOutput({ ...data, scalar: data.values.length === 1 });
  },
  Slice(im) {
    const data = im.value(im.node.inputs[0]);
    if (data.t !== 'ints') unsupported('Slice of a tensor');
    const starts = im.ints(1, 'starts');
    const ends = im.ints(2, 'ends');
    const n = data.values.length;
    const clamp = (v: number) => Math.max(0, Math.min(n, v < 0 ? v + n : v));
    im.setOutput({ t: 'ints', values: data.values.slice(clamp(starts[0]), clamp(ends[0])), scalar: false });
  },
};

function constant(name: string, dims: number[], values: number[]): OnnxTensor {
  return {
    name,
    dims,
    dataType: 1,
    hasData: true,
    floats: () => Float32Array.from(values),
    ints: () => values,
  };
}

function denseFrom(
  im: Importer,
  x: TensorValue,
  b: OnnxTensor,
  inputs: number,
  units: number,
  transB: boolean,
  c: OnnxTensor | undefined,
): string {
  if (x.shape[0] !== inputs) unsupported(`a weight for ${inputs} inputs reading ${x.shape[0]} values`);
  const name = im.nameFor(b);
  const out = im.emit(
    'dense',
    { units, bias: c !== undefined, activation: { function: 'linear' } },
    [x],
    name,
    'flat',
  );
  const chw = x.chw;
  im.plan(name, [
    {
      weight: 'kernel',
      source: b,
      shape: [inputs, units],
      convert(data) {
        let kernel = transB ? permute(data, [units, inputs], [1, 0]).data : data; // [in, out]
        // The rows of a channel-major flatten, reordered to our H, W, C flatten.
        if (chw) {
          const [cc, h, w] = chw;
          const reordered = new Float32Array(kernel.length);
          for (let hh = 0; hh < h; hh++)
            for (let ww = 0; ww < w; ww++)
              for (let ch = 0; ch < cc; ch++) {
                const ours = (hh * w + ww) * cc + ch;
                const theirs = (ch * h + hh) * w + ww;
                reordered.set(kernel.subarray(theirs * units, (theirs + 1) * units), ours * units);
              }
          kernel = reordered;
        }
        return kernel;
      },
    },
    ...(c ? [{ weight: 'bias', source: c, shape: [units] }] : []),
  ]);
  im.setOutput({ ...out });
  return name;
}

/** The image input: [N, C, H, W] (or [N, H, W, C] when a Transpose to NCHW reads it), sizes from the file or the caller. */
function imageInput(
  model: OnnxModel,
  options: OnnxImportOptions,
): { name: string; shape: Shape3; layout: Layout } {
  const weightInputs = new Set(model.initializers.keys());
  const candidates = model.inputs.filter((i) => !weightInputs.has(i.name));
  const image = candidates[0];
  if (!image)
    throw new AppError(422, 'UNSUPPORTED_MODEL', 'graph.input: the model has no input that is not a weight', {
      field: 'graph.input',
    });
  if (image.dims.length !== 4) {
    throw new AppError(
      422,
      'UNSUPPORTED_MODEL',
      `graph.input[0] (${image.name}): expected an image batch [N, C, H, W]; received ${image.dims.length} dimensions`,
      { field: 'graph.input', received: image.dims },
    );
  }
  const readers = model.nodes.filter((n) => n.inputs.includes(image.name));
  const nhwc =
    readers.length > 0 &&
    readers.every((n) => {
      const perm = n.attrs.get('perm');
      return (
        n.opType === 'Transpose' && perm?.type === 'ints' && (perm.value as number[]).join(',') === '0,3,1,2'
      );
    });
  const [, a, b, c] = image.dims;
  const hwc = nhwc ? [a, b, c] : [b, c, a];
  if (options.input) return { name: image.name, shape: options.input, layout: nhwc ? 'nhwc' : 'nchw' };
  const missing = hwc.findIndex((d) => typeof d !== 'number' || d < 1);
  if (missing >= 0) {
    throw new AppError(
      422,
      'UNSUPPORTED_INPUT_SHAPE',
      `graph.input[0] (${image.name}): the ${['height', 'width', 'channels'][missing]} is ${JSON.stringify(hwc[missing] ?? null)}; give the size to analyse at with ?input=H,W,C (HTTP), "input" beside the model, or --input H,W,C`,
      {
        field: 'graph.input',
        received: image.dims,
        expected: 'known height, width and channels, or an input size from the caller',
      },
    );
  }
  return { name: image.name, shape: hwc as Shape3, layout: nhwc ? 'nhwc' : 'nchw' };
}

/** Reads an ONNX model into our graph; throws 422 UNSUPPORTED_OPS listing every op it cannot map. */
export function graphFromOnnx(model: OnnxModel, options: OnnxImportOptions = {}): OnnxImport {
  const limits = options.limits ?? DEFAULT_SPEC_LIMITS;
  const input = imageInput(model, options);
  const im = new Importer(model, limits);
  im.values.set(input.name, { t: 'tensor', node: INPUT_NAME, shape: input.shape, layout: input.layout });
  for (const [name, t] of model.initializers)
    im.values.set(
      name,
      t.dataType === ONNX_INT64 || t.dataType === ONNX_INT32
        ? { t: 'ints', values: t.ints(), scalar: t.dims.length === 0 }
        : { t: 'const', tensor: t },
    );
  // Weights exported as graph inputs (export_params=False): their shapes, without values.
  for (const v of model.inputs) {
    if (v.name === input.name || im.values.has(v.name)) continue;
    const dims = v.dims.map((d) => (typeof d === 'number' ? d : -1));
    im.values.set(v.name, {
      t: 'const',
      tensor: {
        name: v.name,
        dims,
        dataType: v.elemType,
        hasData: false,
        floats: () => new Float32Array(0),
        ints: () => [],
      },
    });
  }

  const unknown = new Map<string, string[]>();
  model.nodes.forEach((node, index) => {
    const known = (node.domain === '' || node.domain === 'ai.onnx') && Object.hasOwn(OPS, node.opType);
    if (!known) unknown.set(node.opType, [...(unknown.get(node.opType) ?? []), node.name || node.outputs[0]]);
    if (!known || node.inputs.some((i) => i !== '' && !im.values.has(i))) return; // unmapped, or fed by an unmapped node
    im.node = node;
    im.index = index;
    try {
      OPS[node.opType](im);
    } catch (err) {
      if (!(err instanceof UnsupportedHere)) throw err;
      im.problems.push({ opType: node.opType, node: node.name || node.outputs[0], why: err.message });
    }
  });
  if (unknown.size || im.problems.length) throw unsupportedOps(unknown, im.problems);

  if (model.outputs.length !== 1) {
    throw new AppError(
      422,
      'UNSUPPORTED_MODEL',
      `graph.output: the model has ${model.outputs.length} outputs; only single-output models can be read`,
      { field: 'graph.output', received: model.outputs.map((o) => o.name) },
    );
  }
  const out = im.values.get(model.outputs[0].name);
  if (out?.t !== 'tensor' || out.node === INPUT_NAME) {
    throw new AppError(
      422,
      'UNSUPPORTED_MODEL',
      `graph.output (${model.outputs[0].name}): expected a computed tensor`,
      { field: 'graph.output' },
    );
  }
  if (out.chw) {
    throw new AppError(
      422,
      'UNSUPPORTED_OPS',
      `graph.output (${model.outputs[0].name}): a feature map flattened in channel-major order is the output; our flatten is H, W, C`,
      { field: 'graph.output' },
    );
  }
  const { blocks, blockPaths } = detectBlocks(im.nodes);
  for (const node of im.nodes) node.blockPath = blockPaths.get(node.name) ?? [];
  const graph: Graph = {
    name: model.graphName,
    input: input.shape,
    nodes: im.nodes,
    output: out.node,
    blocks,
  };
  const plans = [...im.weights.entries()];
  return {
    graph,
    hasWeights: plans.every(([, ps]) => ps.every((p) => p.source.hasData)),
    weights() {
      return plans.flatMap(([layer, ps]) =>
        ps.map((p) => {
          if (!p.source.hasData)
            throw new AppError(
              422,
              'MODEL_WITHOUT_WEIGHTS',
              `${p.source.name}: the ONNX file holds no values for this weight (exported with export_params=False?)`,
              { field: p.source.name },
            );
          const data = p.source.floats();
          return { layer, weight: p.weight, shape: p.shape, data: p.convert ? p.convert(data) : data };
        }),
      );
    },
  };
}

function unsupportedOps(unknown: Map<string, string[]>, problems: Problem[]): AppError {
  const lines = [
    ...[...unknown].map(
      ([op, nodes]) =>
        `${op} (${nodes.slice(0, 10).join(', ')}${nodes.length > 10 ? `, … ${nodes.length} in all` : ''}): no mapping`,
    ),
    ...problems.map((p) => `${p.opType} (${p.node}): ${p.why}`),
  ];
  return new AppError(
    422,
    'UNSUPPORTED_OPS',
    `unsupported ONNX operators: ${lines.join('; ')}. They would otherwise be counted as zero, so the model is refused.`,
    {
      field: 'graph.node',
      received: [...new Set([...unknown.keys(), ...problems.map((p) => p.opType)])],
      expected: 'operators the importer maps (see src/interop/onnx/import.ts)',
      unsupported: [
        ...[...unknown].map(([opType, nodes]) => ({ opType, nodes, why: 'no mapping' })),
        ...problems.map((p) => ({ opType: p.opType, nodes: [p.node], why: p.why })),
      ],
    },
  );
}
