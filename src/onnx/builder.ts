/**
 * Graph → ONNX model (opset 17) for ONNX Runtime: the network the tfjs builder builds, from the
 * same spec and the same bound (Keras-layout) weights, with the same semantics, including the
 * `logits` option that leaves out the output's softmax.
 *
 * Layout: the model takes NHWC input (`input`, [batch, H, W, C]) like the tfjs model, transposes
 * to NCHW once (ONNX Runtime's convolutions are NCHW) and transposes back only where the NHWC order
 * is observable: before flattening a feature map (Keras flattens H, W, C) and at a feature-map
 * output. Padding is always explicit, resolved by src/analysis/geometry.ts as the analyzer and the
 * tfjs builder resolve it, so `same` follows TensorFlow (extra pixel at the bottom/right).
 * Value names are the spec's layer names; helper values add a suffix (`<layer>_nhwc`).
 * With `foldBatchNorm` (the default) a batch norm that directly follows a conv read by nothing
 * else is folded into the conv's kernel and bias; the conv then outputs the batch norm's value.
 * Unlike the tfjs engine, grouped convs are supported. Pool padding and ceil mode: see `pool`.
 */
import { finalSoftmax } from '../graph/final-softmax.js';
import { outputLength, resolvePads, type Pads } from '../analysis/geometry.js';
import { inferShapes, type ShapedGraph } from '../analysis/shapes.js';
import { AppError } from '../errors.js';
import { INPUT_NAME, type ActivationFn, type Graph, type GraphNode, type GraphNodeOf, type LeafKind, type TensorShape } from '../spec/types.js';
import { permute, type BoundWeight } from '../weights/bind.js';
import { attr, DataType, encodeModel, type Attribute, type ModelDef, type NodeDef, type TensorDef } from './onnx-model.js';

export interface OnnxBuildOptions {
  /** Leave out the output node's softmax (as the tfjs builder does) and name the output `logits`. */
  logits?: boolean;
  /** Fold a batch norm into the conv it directly follows when nothing else reads that conv (default true). */
  foldBatchNorm?: boolean;
}

export class UnsupportedByOnnxError extends AppError {
  constructor(node: GraphNode, why: string) {
    super(422, 'UNSUPPORTED_BY_ENGINE', `${node.specPath} (${node.name}): ${why}`, { field: node.specPath, layer: node.name });
  }
}

/** NHWC → NCHW and back. */
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];


/** Collects nodes and initializers with unique value names; knows each spec layer's shape and weights. */
class Emitter {
  readonly nodes: NodeDef[] = [];
  readonly initializers: TensorDef[] = [];
  private readonly names = new Set<string>();
  private readonly scalars = new Map<string, string>();
  private readonly weights = new Map<string, BoundWeight>();
  private readonly producers = new Map<string, NodeDef>();
  /** Batch norms already folded into the conv before them. */
  readonly folded = new Set<string>();

  constructor(
    readonly shaped: ShapedGraph,
    bound: BoundWeight[],
    readonly readers: Map<string, GraphNode[]>,
    readonly options: { fold: boolean; stripped?: GraphNode },
    reserved: string[],
  ) {
    for (const w of bound) this.weights.set(`${w.layer}/${w.weight}`, w);
    for (const r of reserved) this.names.add(r);
  }

  /** `base`, or `base_1`, `base_2`… if taken. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Per-image shape of a spec value: [H, W, C] for a feature map (NCHW inside the model), [C] when flat. */
  shape(specName: string): TensorShape {
    return this.shaped.shapes.get(specName)!;
  }

  weight(node: GraphNode, name: string): BoundWeight {
    const w = this.weights.get(`${node.name}/${name}`);
    if (!w) throw new Error(`no bound weight ${node.name}/${name} (bind weights with bindWeights first)`);
    return w;
  }

  /** Appends a node; its output is `output` made unique, or exactly `output` when that name was reserved. */
  op(op: string, inputs: string[], attributes: Attribute[], output: string, reserved = false): string {
    const out = reserved ? output : this.unique(output);
    const node = { op, inputs, outputs: [out], name: out, attributes };
    this.nodes.push(node);
    this.producers.set(out, node);
    return out;
  }

  constant(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims, data });
    return unique;
  }

  /** A float scalar constant, shared by every reader of the same value. */
  scalar(value: number): string {
    const key = Object.is(value, -0) ? 'minus0' : String(value); // a Map would take −0 for 0
    let name = this.scalars.get(key);
    if (!name) {
      name = this.constant(`const_${key}`, [], Float32Array.of(value));
      this.scalars.set(key, name);
    }
    return name;
  }

  int64s(name: string, values: number[]): string {
    return this.constant(name, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** Zero (or −∞) padding of H and W by an explicit Pad node. */
  pad(x: string, p: Pads, value: number, output: string): string {
    const pads = this.int64s(`${output}/pads`, [0, 0, p.top, p.left, 0, 0, p.bottom, p.right]);
    return this.op('Pad', [x, pads, this.scalar(value)], [], output);
  }

  /**
   * Keeps ONNX Runtime from merging the zero Pad that produces `value` into the MaxPool reading it.
   * Its PadFusion (level 'basic' and up) moves a Pad whose constant is all zero *bytes* into the
   * pool's pads, which MaxPool treats as −∞: wrong wherever a window sees only negative values
   * (ResNet v2's stem: conv → zeropad → maxpool, with no ReLU between). Padding with −0.0 instead
   * is the same number to every operator but not zero bytes, so the Pad stays.
   */
  keepPadBeforeMaxPool(value: string): void {
    const node = this.producers.get(value);
    if (node?.op === 'Pad' && node.inputs[2] === this.scalars.get('0')) node.inputs[2] = this.scalar(-0);
  }

  /** The batch norm that can be folded into `conv`, if any. */
  foldableBatchNorm(conv: GraphNode): GraphNodeOf<'batchnorm'> | undefined {
    if (!this.options.fold || conv.name === this.shaped.graph.output) return undefined;
    const readers = this.readers.get(conv.name) ?? [];
    const [only] = readers;
    return readers.length === 1 && only.kind === 'batchnorm' && only.inputs[0] === conv.name ? only : undefined;
  }

  /** A batch norm's gamma, beta, mean and variance; absent gamma/beta (scale/center off) are 1/0. */
  batchNormParams(node: GraphNodeOf<'batchnorm'>) {
    const c = this.shape(node.name).at(-1)!;
    return {
      gamma: node.attrs.scale ? this.weight(node, 'gamma').data : new Float32Array(c).fill(1),
      beta: node.attrs.center ? this.weight(node, 'beta').data : new Float32Array(c),
      mean: this.weight(node, 'moving_mean').data,
      variance: this.weight(node, 'moving_variance').data,
      epsilon: node.attrs.epsilon,
    };
  }
}

/**
 * w' = w·γ/√(var+ε), b' = (b − mean)·γ/√(var+ε) + β, per output channel, in float64 before rounding.
 * `kernel` is OIHW, so output channel o owns the contiguous run [o·per, (o+1)·per).
 */
function foldBatchNorm(kernel: Float32Array, bias: Float32Array | undefined, bnp: ReturnType<Emitter['batchNormParams']>) {
  const cout = bnp.mean.length;
  const per = kernel.length / cout;
  const w = new Float32Array(kernel.length);
  const b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = bnp.gamma[o] / Math.sqrt(bnp.variance[o] + bnp.epsilon);
    for (let i = o * per; i < (o + 1) * per; i++) w[i] = kernel[i] * s;
    b[o] = ((bias ? bias[o] : 0) - bnp.mean[o]) * s + bnp.beta[o];
  }
  return { kernel: w, bias: b };
}

function activation(e: Emitter, fn: ActivationFn, x: string, output: string): string {
  switch (fn) {
    case 'linear':
      return x;
    case 'relu':
      // ONNX Runtime fuses Conv + Relu itself at optimisation level 'all'.
      return e.op('Relu', [x], [], output);
    case 'relu6':
      return e.op('Clip', [x, e.scalar(0), e.scalar(6)], [], output);
    case 'sigmoid':
      return e.op('Sigmoid', [x], [], output);
    case 'tanh':
      return e.op('Tanh', [x], [], output);
    case 'softmax':
      // Keras' softmax is over the last (channel) axis: axis 1 both for [N, C] and for NCHW.
      return e.op('Softmax', [x], [attr.int('axis', 1)], output);
  }
}

const hasPads = (p: Pads) => p.top + p.bottom + p.left + p.right > 0;

function pool(e: Emitter, node: GraphNodeOf<'maxpool'> | GraphNodeOf<'avgpool'>, x: string): string {
  const a = node.attrs;
  const [h, w] = e.shape(node.inputs[0]);
  const [oh, ow] = e.shape(node.name);
  const [kh, kw] = a.pool;
  const [sh, sw] = a.strides;
  const pads = resolvePads(a.padding, [h, w], a.pool, a.strides);
  // Ceil mode: windows may hang past the bottom/right padding. Those cells are padded too, but never
  // counted (ignored by max, left out of the average's divisor), as in PaddedPool2D and PyTorch.
  // ONNX's own ceil_mode is not used: the output size is the analyzer's, and the pads yield exactly it.
  const extraH = Math.max((oh - 1) * sh + kh - (h + pads.top + pads.bottom), 0);
  const extraW = Math.max((ow - 1) * sw + kw - (w + pads.left + pads.right), 0);
  const isAvg = node.kind === 'avgpool';
  let input = x;
  let inH = h;
  let inW = w;
  let p: Pads = { top: pads.top, left: pads.left, bottom: pads.bottom + extraH, right: pads.right + extraW };
  let countIncludePad = 0;
  if (isAvg && a.padding.mode === 'explicit' && a.countIncludePad && hasPads(pads)) {
    if (extraH === 0 && extraW === 0) {
      countIncludePad = 1;
    } else {
      // ONNX's count_include_pad would also count the ceil-mode overhang; PyTorch counts only the
      // explicit padding. So pad explicitly with zeros (which then count) and exclude the overhang.
      input = e.pad(x, pads, 0, `${node.name}_pad`);
      inH += pads.top + pads.bottom;
      inW += pads.left + pads.right;
      p = { top: 0, left: 0, bottom: extraH, right: extraW };
    }
  }
  if (!isAvg) e.keepPadBeforeMaxPool(input);
  // ONNX Runtime refuses pads as large as the window; such a max pool pads explicitly with −∞.
  if (Math.max(p.top, p.bottom) >= kh || Math.max(p.left, p.right) >= kw) {
    if (isAvg) throw new UnsupportedByOnnxError(node, 'average pooling with padding as large as the window is not supported by the ONNX engine');
    input = e.pad(input, p, Number.NEGATIVE_INFINITY, `${node.name}_pad`);
    inH += p.top + p.bottom;
    inW += p.left + p.right;
    p = { top: 0, left: 0, bottom: 0, right: 0 };
  }
  const fullH = outputLength(inH, kh, sh, 1, p.top, p.bottom);
  const fullW = outputLength(inW, kw, sw, 1, p.left, p.right);
  const attributes = [
    attr.ints('kernel_shape', [kh, kw]),
    attr.ints('strides', [sh, sw]),
    ...(hasPads(p) ? [attr.ints('pads', [p.top, p.left, p.bottom, p.right])] : []),
    ...(isAvg ? [attr.int('count_include_pad', countIncludePad)] : []),
  ];
  const sliced = fullH > oh || fullW > ow;
  const y = e.op(isAvg ? 'AveragePool' : 'MaxPool', [input], attributes, sliced ? `${node.name}_full` : node.name);
  if (!sliced) return y;
  // Ceil mode drops a last window that would start in the trailing padding; floor mode keeps it.
  const starts = e.int64s(`${node.name}/starts`, [0, 0]);
  const ends = e.int64s(`${node.name}/ends`, [oh, ow]);
  const axes = e.int64s(`${node.name}/axes`, [2, 3]);
  return e.op('Slice', [y, starts, ends, axes], [], node.name);
}

function globalPool(e: Emitter, op: 'GlobalAveragePool' | 'GlobalMaxPool', node: GraphNode, x: string): string {
  const pooled = e.op(op, [x], [], `${node.name}_nchw`); // [N, C, 1, 1]
  return e.op('Flatten', [pooled], [attr.int('axis', 1)], node.name);
}

type Emit<K extends LeafKind> = (e: Emitter, node: GraphNodeOf<K>, inputs: string[]) => string;

/** One entry per layer kind: emits the layer's ONNX nodes and returns the value holding its output. */
const EMIT: { [K in LeafKind]: Emit<K> } = {
  conv2d(e, node, [x]) {
    const a = node.attrs;
    const [h, w] = e.shape(node.inputs[0]);
    const pads = resolvePads(a.padding, [h, w], a.kernel, a.strides, a.dilation);
    const k = e.weight(node, 'kernel'); // HWIO [kh, kw, Cin/groups, Cout]
    let kernel = permute(k.data, k.shape, [3, 2, 0, 1]).data; // OIHW
    let bias = a.bias ? e.weight(node, 'bias').data : undefined;
    let output = node.name;
    const bnNode = e.foldableBatchNorm(node);
    if (bnNode) {
      ({ kernel, bias } = foldBatchNorm(kernel, bias, e.batchNormParams(bnNode)));
      output = bnNode.name;
      e.folded.add(bnNode.name);
    }
    const inputs = [x, e.constant(`${node.name}/kernel`, [k.shape[3], k.shape[2], k.shape[0], k.shape[1]], kernel)];
    if (bias) inputs.push(e.constant(`${node.name}/bias`, [a.filters], bias));
    return e.op('Conv', inputs, [
      attr.ints('kernel_shape', a.kernel),
      attr.ints('strides', a.strides),
      attr.ints('dilations', a.dilation),
      attr.ints('pads', [pads.top, pads.left, pads.bottom, pads.right]),
      attr.int('group', a.groups),
    ], output);
  },
  batchnorm(e, node, [x]) {
    if (e.folded.has(node.name)) return x; // the conv before it already outputs this value
    const p = e.batchNormParams(node);
    const c = p.mean.length;
    return e.op('BatchNormalization', [
      x,
      e.constant(`${node.name}/gamma`, [c], p.gamma),
      e.constant(`${node.name}/beta`, [c], p.beta),
      e.constant(`${node.name}/moving_mean`, [c], p.mean),
      e.constant(`${node.name}/moving_variance`, [c], p.variance),
    ], [attr.float('epsilon', p.epsilon)], node.name);
  },
  activation: (e, node, [x]) => activation(e, node === e.options.stripped ? 'linear' : node.attrs.function, x, node.name),
  zeropad: (e, node, [x]) => e.pad(x, node.attrs.padding, 0, node.name),
  maxpool: (e, node, [x]) => pool(e, node, x),
  avgpool: (e, node, [x]) => pool(e, node, x),
  globalavgpool: (e, node, [x]) => globalPool(e, 'GlobalAveragePool', node, x),
  globalmaxpool: (e, node, [x]) => globalPool(e, 'GlobalMaxPool', node, x),
  flatten(e, node, [x]) {
    if (e.shape(node.inputs[0]).length !== 3) return x;
    // Keras flattens in H, W, C order: go back to NHWC first.
    const nhwc = e.op('Transpose', [x], [attr.ints('perm', TO_NHWC)], `${node.name}_nhwc`);
    return e.op('Flatten', [nhwc], [attr.int('axis', 1)], node.name);
  },
  dense(e, node, [x]) {
    const a = node.attrs;
    const k = e.weight(node, 'kernel'); // [in, out]: Gemm's B without transposing
    const inputs = [x, e.constant(`${node.name}/kernel`, k.shape, k.data)];
    if (a.bias) inputs.push(e.constant(`${node.name}/bias`, [a.units], e.weight(node, 'bias').data));
    const fn = node === e.options.stripped ? 'linear' : a.activation;
    const y = e.op('Gemm', inputs, [attr.int('transB', 0)], fn === 'linear' ? node.name : `${node.name}_linear`);
    return activation(e, fn, y, node.name);
  },
  dropout: (_e, _node, [x]) => x, // inference
  add(e, node, inputs) {
    if (node.attrs.scale !== 1) {
      // Inception-ResNet: x + scale·y (the tfjs ScaledAdd reads the first two inputs).
      const scaled = e.op('Mul', [inputs[1], e.scalar(node.attrs.scale)], [], `${node.name}_scaled`);
      return e.op('Add', [inputs[0], scaled], [], node.name);
    }
    return e.op(inputs.length === 2 ? 'Add' : 'Sum', inputs, [], node.name);
  },
  concat: (e, node, inputs) => (inputs.length === 1 ? inputs[0] : e.op('Concat', inputs, [attr.int('axis', 1)], node.name)),
};

/** The ONNX model as plain objects (see onnx-model.ts), before encoding. */
export function buildOnnxGraph(graph: Graph, bound: BoundWeight[], options: OnnxBuildOptions = {}): ModelDef {
  const shaped = inferShapes(graph);
  const outputName = options.logits ? 'logits' : 'output';
  const readers = new Map<string, GraphNode[]>();
  for (const node of graph.nodes) for (const i of node.inputs) readers.set(i, [...(readers.get(i) ?? []), node]);
  const e = new Emitter(
    shaped,
    bound,
    readers,
    { fold: options.foldBatchNorm ?? true, stripped: options.logits ? finalSoftmax(graph) : undefined },
    [INPUT_NAME, outputName],
  );

  const values = new Map<string, string>();
  values.set(INPUT_NAME, e.op('Transpose', [INPUT_NAME], [attr.ints('perm', TO_NCHW)], `${INPUT_NAME}_nchw`));
  for (const node of graph.nodes) {
    const emit = EMIT[node.kind] as Emit<LeafKind>;
    values.set(node.name, emit(e, node as never, node.inputs.map((i) => values.get(i)!)));
  }

  const outShape = shaped.shapes.get(graph.output)!;
  const last = values.get(graph.output)!;
  if (outShape.length === 3) e.op('Transpose', [last], [attr.ints('perm', TO_NHWC)], outputName, true);
  else e.op('Identity', [last], [], outputName, true);

  // A constant can lose its last reader (keepPadBeforeMaxPool swaps 0 for −0); ORT warns about those.
  const read = new Set(e.nodes.flatMap((n) => n.inputs));
  return {
    graph: {
      name: graph.name,
      nodes: e.nodes,
      initializers: e.initializers.filter((t) => read.has(t.name)),
      inputs: [{ name: INPUT_NAME, elemType: DataType.FLOAT, dims: ['batch', ...graph.input] }],
      outputs: [{ name: outputName, elemType: DataType.FLOAT, dims: ['batch', ...outShape] }],
    },
  };
}

/** Builds the ONNX model bytes for `graph` with its bound weights. */
export function buildOnnxModel(graph: Graph, bound: BoundWeight[], options: OnnxBuildOptions = {}): Uint8Array {
  return encodeModel(buildOnnxGraph(graph, bound, options));
}
