/**
 * Graph → ONNX model (opset 17), for ONNX Runtime and for export: the network the tfjs executor
 * runs, from the same spec and the same bound weights (our layout), with the same semantics, after
 * the same inference passes (src/spec/passes: batch-norm folding, the final softmax left out for
 * logits). One table entry per layer kind.
 *
 * Layout: the model takes NHWC input (`input`, [batch, H, W, C]) like the tfjs engine, transposes
 * to NCHW once (ONNX Runtime's convolutions are NCHW) and transposes back only where the NHWC order
 * is observable: before flattening or reshaping a feature map (Keras flattens H, W, C) and at a
 * feature-map output. Weights are converted at this edge (HWIO → OIHW). Padding is always explicit,
 * resolved by src/spec/geometry.ts as the analyzer resolves it, so `same` follows TensorFlow (extra
 * pixel at the bottom/right). Value names are the spec's layer names; helper values add a suffix
 * (`<layer>_nhwc`). Pool padding and ceil mode: see `pool`.
 */
import { outputLength, resolvePads, type Pads } from '../../spec/geometry.js';
import { prepareForInference, type InferenceOptions } from '../../spec/passes/index.js';
import { inferShapes, type ShapedGraph } from '../../spec/shapes.js';
import { AppError } from '../../errors.js';
import {
  INPUT_NAME,
  type Activation,
  type ActivationFn,
  type BoundWeight,
  type Graph,
  type GraphNode,
  type GraphNodeOf,
  type LeafKind,
  type TensorShape,
} from '../../spec/types.js';
import { permute, permute4InPlace } from '../../weights/permute.js';
import {
  attr,
  DataType,
  encodeModel,
  type Attribute,
  type ModelDef,
  type NodeDef,
  type TensorDef,
} from './model.js';
import { defined, lookup } from '../../invariant.js';

/** `logits` also names the output `logits` instead of `output`. */
export type OnnxBuildOptions = InferenceOptions;

export class UnsupportedByOnnxError extends AppError {
  constructor(node: GraphNode, why: string) {
    super(422, 'UNSUPPORTED_BY_ENGINE', `${node.specPath} (${node.name}): ${why}`, {
      field: node.specPath,
      layer: node.name,
    });
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

  /** Where kernels are copied while they are permuted in place (grown to the largest). */
  private scratch = new Float32Array(0);

  constructor(
    readonly shaped: ShapedGraph,
    bound: BoundWeight[],
    reserved: string[],
    /** The weights' arrays are this build's to overwrite (InferenceOptions.inPlace). */
    private readonly inPlace = false,
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
    return lookup(this.shaped.shapes, specName, 'shape');
  }

  weight(node: GraphNode, name: string): BoundWeight {
    const w = this.weights.get(`${node.name}/${name}`);
    if (!w) throw new Error(`no bound weight ${node.name}/${name} (bind weights with bindWeights first)`);
    return w;
  }

  /** A weight's data in another layout (`perm` of its axes): rewritten in place when the build owns it. */
  permuted(w: BoundWeight, perm: number[]): Float32Array {
    if (!this.inPlace || w.shape.length !== 4) return permute(w.data, w.shape, perm).data;
    if (this.scratch.length < w.data.length) this.scratch = new Float32Array(w.data.length);
    permute4InPlace(w.data, w.shape, perm, this.scratch);
    return w.data;
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

  /** A batch norm's gamma, beta, mean and variance; absent gamma/beta (scale/center off) are 1/0. */
  batchNormParams(node: GraphNodeOf<'batchnorm'>) {
    const c = defined(this.shape(node.name).at(-1), `${node.name}'s channel count`);
    return {
      gamma: node.attrs.scale ? this.weight(node, 'gamma').data : new Float32Array(c).fill(1),
      beta: node.attrs.center ? this.weight(node, 'beta').data : new Float32Array(c),
      mean: this.weight(node, 'moving_mean').data,
      variance: this.weight(node, 'moving_variance').data,
      epsilon: node.attrs.epsilon,
    };
  }
}

type EmitActivation<F extends ActivationFn> = (
  e: Emitter,
  a: Extract<Activation, { function: F }>,
  x: string,
  output: string,
) => string;

/** One entry per activation function (src/spec/activations.ts); opset 17 has all but GELU as one op. */
const ACTIVATIONS: { [F in ActivationFn]: EmitActivation<F> } = {
  linear: (_e, _a, x) => x,
  // ONNX Runtime fuses Conv + Relu itself at optimisation level 'all'.
  relu: (e, _a, x, out) => e.op('Relu', [x], [], out),
  relu6: (e, _a, x, out) => e.op('Clip', [x, e.scalar(0), e.scalar(6)], [], out),
  sigmoid: (e, _a, x, out) => e.op('Sigmoid', [x], [], out),
  tanh: (e, _a, x, out) => e.op('Tanh', [x], [], out),
  // Keras' softmax is over the last (channel) axis: axis 1 both for [N, C] and for NCHW.
  softmax: (e, _a, x, out) => e.op('Softmax', [x], [attr.int('axis', 1)], out),
  silu: (e, _a, x, out) => e.op('Mul', [x, e.op('Sigmoid', [x], [], `${out}_sigmoid`)], [], out),
  hard_sigmoid: (e, a, x, out) =>
    e.op('HardSigmoid', [x], [attr.float('alpha', a.alpha), attr.float('beta', a.beta)], out),
  hard_swish: (e, _a, x, out) => e.op('HardSwish', [x], [], out),
  gelu(e, a, x, out) {
    // 0.5·x·(1 + erf(x/√2)), or 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    let inner: string;
    if (a.approximate) {
      const cube = e.op('Mul', [x, e.op('Mul', [x, x], [], `${out}_sq`)], [], `${out}_cube`);
      const poly = e.op(
        'Add',
        [x, e.op('Mul', [cube, e.scalar(0.044715)], [], `${out}_c3`)],
        [],
        `${out}_poly`,
      );
      inner = e.op(
        'Tanh',
        [e.op('Mul', [poly, e.scalar(Math.sqrt(2 / Math.PI))], [], `${out}_arg`)],
        [],
        `${out}_tanh`,
      );
    } else {
      inner = e.op('Erf', [e.op('Mul', [x, e.scalar(Math.SQRT1_2)], [], `${out}_arg`)], [], `${out}_erf`);
    }
    const half = e.op('Mul', [x, e.scalar(0.5)], [], `${out}_half`);
    return e.op('Mul', [half, e.op('Add', [inner, e.scalar(1)], [], `${out}_one_plus`)], [], out);
  },
  leaky_relu: (e, a, x, out) => e.op('LeakyRelu', [x], [attr.float('alpha', a.alpha)], out),
  elu: (e, a, x, out) => e.op('Elu', [x], [attr.float('alpha', a.alpha)], out),
  clip: (e, a, x, out) => e.op('Clip', [x, e.scalar(a.min), e.scalar(a.max)], [], out),
};

function activation(e: Emitter, a: Activation, x: string, output: string): string {
  return (ACTIVATIONS[a.function] as EmitActivation<ActivationFn>)(e, a as never, x, output);
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
    if (isAvg)
      throw new UnsupportedByOnnxError(
        node,
        'average pooling with padding as large as the window is not supported by the ONNX engine',
      );
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
  const y = e.op(
    isAvg ? 'AveragePool' : 'MaxPool',
    [input],
    attributes,
    sliced ? `${node.name}_full` : node.name,
  );
  if (!sliced) return y;
  // Ceil mode drops a last window that would start in the trailing padding; floor mode keeps it.
  const starts = e.int64s(`${node.name}/starts`, [0, 0]);
  const ends = e.int64s(`${node.name}/ends`, [oh, ow]);
  const axes = e.int64s(`${node.name}/axes`, [2, 3]);
  return e.op('Slice', [y, starts, ends, axes], [], node.name);
}

function globalPool(
  e: Emitter,
  op: 'GlobalAveragePool' | 'GlobalMaxPool',
  node: GraphNode,
  x: string,
  keepdims: boolean,
): string {
  if (keepdims) return e.op(op, [x], [], node.name); // [N, C, 1, 1]: the NCHW form of [1, 1, C]
  const pooled = e.op(op, [x], [], `${node.name}_nchw`);
  return e.op('Flatten', [pooled], [attr.int('axis', 1)], node.name);
}

type Emit<K extends LeafKind> = (e: Emitter, node: GraphNodeOf<K>, inputs: string[]) => string;

/** One entry per layer kind: emits the layer's ONNX nodes and returns the value holding its output. */
/** A per-channel (or single) constant shaped to broadcast over the value `of` (NCHW maps, [N, C] vectors). */
function channelConstant(e: Emitter, name: string, values: number[], of: string): string {
  if (values.length === 1) return e.scalar(values[0]);
  const dims = e.shape(of).length === 3 ? [values.length, 1, 1] : [values.length];
  return e.constant(name, dims, Float32Array.from(values));
}

/** Reshapes to the per-image `shape` in row-major H, W, C order, whatever the layouts around it. */
function reshapeNhwc(e: Emitter, node: GraphNode, x: string, shape: TensorShape): string {
  const input =
    e.shape(node.inputs[0]).length === 3
      ? e.op('Transpose', [x], [attr.ints('perm', TO_NHWC)], `${node.name}_nhwc`)
      : x;
  const target = e.int64s(`${node.name}/shape`, [0, ...shape]); // 0 keeps the batch size
  if (shape.length !== 3) return e.op('Reshape', [input, target], [], node.name);
  const y = e.op('Reshape', [input, target], [], `${node.name}_nhwc_out`);
  return e.op('Transpose', [y], [attr.ints('perm', TO_NCHW)], node.name);
}

const EMIT: { [K in LeafKind]: Emit<K> } = {
  conv2d(e, node, [x]) {
    const a = node.attrs;
    const [h, w] = e.shape(node.inputs[0]);
    const pads = resolvePads(a.padding, [h, w], a.kernel, a.strides, a.dilation);
    const k = e.weight(node, 'kernel'); // HWIO [kh, kw, Cin/groups, Cout]
    const kernel = e.permuted(k, [3, 2, 0, 1]); // OIHW
    const inputs = [
      x,
      e.constant(`${node.name}/kernel`, [k.shape[3], k.shape[2], k.shape[0], k.shape[1]], kernel),
    ];
    if (a.bias) inputs.push(e.constant(`${node.name}/bias`, [a.filters], e.weight(node, 'bias').data));
    return e.op(
      'Conv',
      inputs,
      [
        attr.ints('kernel_shape', a.kernel),
        attr.ints('strides', a.strides),
        attr.ints('dilations', a.dilation),
        attr.ints('pads', [pads.top, pads.left, pads.bottom, pads.right]),
        attr.int('group', a.groups),
      ],
      node.name,
    );
  },
  batchnorm(e, node, [x]) {
    const p = e.batchNormParams(node);
    const c = p.mean.length;
    return e.op(
      'BatchNormalization',
      [
        x,
        e.constant(`${node.name}/gamma`, [c], p.gamma),
        e.constant(`${node.name}/beta`, [c], p.beta),
        e.constant(`${node.name}/moving_mean`, [c], p.mean),
        e.constant(`${node.name}/moving_variance`, [c], p.variance),
      ],
      [attr.float('epsilon', p.epsilon)],
      node.name,
    );
  },
  activation: (e, node, [x]) => activation(e, node.attrs, x, node.name),
  zeropad: (e, node, [x]) => e.pad(x, node.attrs.padding, 0, node.name),
  maxpool: (e, node, [x]) => pool(e, node, x),
  avgpool: (e, node, [x]) => pool(e, node, x),
  globalavgpool: (e, node, [x]) => globalPool(e, 'GlobalAveragePool', node, x, node.attrs.keepdims),
  globalmaxpool: (e, node, [x]) => globalPool(e, 'GlobalMaxPool', node, x, node.attrs.keepdims),
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
    const linear = a.activation.function === 'linear';
    const y = e.op('Gemm', inputs, [attr.int('transB', 0)], linear ? node.name : `${node.name}_linear`);
    return activation(e, a.activation, y, node.name);
  },
  dropout: (_e, _node, [x]) => x, // inference
  add(e, node, inputs) {
    if (inputs.length === 1) return inputs[0];
    const terms = [...inputs];
    // Inception-ResNet: x + scale·y.
    if (node.attrs.scale !== 1)
      terms[1] = e.op('Mul', [inputs[1], e.scalar(node.attrs.scale)], [], `${node.name}_scaled`);
    return e.op(terms.length === 2 ? 'Add' : 'Sum', terms, [], node.name);
  },
  concat: (e, node, inputs) =>
    inputs.length === 1 ? inputs[0] : e.op('Concat', inputs, [attr.int('axis', 1)], node.name),
  multiply(e, node, inputs) {
    if (inputs.length === 1) return inputs[0];
    // Broadcasting [N, C, 1, 1] against [N, C, H, W] is ONNX's own (multidirectional) broadcasting.
    return inputs
      .slice(1)
      .reduce(
        (p, y, i) => e.op('Mul', [p, y], [], i === inputs.length - 2 ? node.name : `${node.name}_${i}`),
        inputs[0],
      );
  },
  reshape: (e, node, [x]) => reshapeNhwc(e, node, x, e.shape(node.name)),
  rescaling(e, node, [x]) {
    const a = node.attrs;
    const scaled = e.op(
      'Mul',
      [x, channelConstant(e, `${node.name}/scale`, a.scale, node.inputs[0])],
      [],
      `${node.name}_scaled`,
    );
    return e.op(
      'Add',
      [scaled, channelConstant(e, `${node.name}/offset`, a.offset, node.inputs[0])],
      [],
      node.name,
    );
  },
  normalization(e, node, [x]) {
    const a = node.attrs;
    const mean = a.mean ?? Array.from(e.weight(node, 'mean').data);
    const variance = a.variance ?? Array.from(e.weight(node, 'variance').data);
    // (x − mean) / max(√var, ε), as a multiply by the reciprocal computed once in float64.
    const inv = variance.map((v) => 1 / Math.max(Math.sqrt(v), a.epsilon));
    const centred = e.op(
      'Sub',
      [x, channelConstant(e, `${node.name}/mean`, mean, node.inputs[0])],
      [],
      `${node.name}_centred`,
    );
    return e.op(
      'Mul',
      [centred, channelConstant(e, `${node.name}/inv_std`, inv, node.inputs[0])],
      [],
      node.name,
    );
  },
};

/**
 * The ONNX model as plain objects (see model.ts), before encoding. The shared inference passes
 * run first (batch norm folding unless `foldBatchNorm: false`; the final softmax left out for logits).
 */
export function buildOnnxGraph(graph: Graph, bound: BoundWeight[], options: OnnxBuildOptions = {}): ModelDef {
  return buildAttributedOnnxGraph(graph, bound, options).model;
}

/**
 * The ONNX model and, for each of its nodes, the spec layer it was emitted for (a layer's helper
 * nodes too: `<layer>_nhwc`, `<layer>_pad`…). The input's transpose and the output's Identity or
 * Transpose belong to no layer and are left out. Profiling reads it to map timed nodes to layers.
 */
export function buildAttributedOnnxGraph(
  graph: Graph,
  bound: BoundWeight[],
  options: OnnxBuildOptions = {},
): { model: ModelDef; layerOf: Map<string, string> } {
  const layerOf = new Map<string, string>();
  const prepared = prepareForInference(graph, bound, options);
  const g = prepared.graph;
  const shaped = inferShapes(g);
  const outputName = options.logits ? 'logits' : 'output';
  const e = new Emitter(shaped, prepared.weights, [INPUT_NAME, outputName], prepared.inPlace);

  const values = new Map<string, string>();
  values.set(INPUT_NAME, e.op('Transpose', [INPUT_NAME], [attr.ints('perm', TO_NCHW)], `${INPUT_NAME}_nchw`));
  for (const node of g.nodes) {
    const emit = EMIT[node.kind] as Emit<LeafKind>;
    const first = e.nodes.length;
    values.set(
      node.name,
      emit(
        e,
        node as never,
        node.inputs.map((i) => lookup(values, i, 'ONNX value')),
      ),
    );
    for (const emitted of e.nodes.slice(first)) layerOf.set(emitted.name ?? emitted.outputs[0], node.name);
  }

  const outShape = lookup(shaped.shapes, g.output, 'shape');
  const last = lookup(values, g.output, 'ONNX value');
  if (outShape.length === 3) e.op('Transpose', [last], [attr.ints('perm', TO_NHWC)], outputName, true);
  else e.op('Identity', [last], [], outputName, true);

  // A constant can lose its last reader (keepPadBeforeMaxPool swaps 0 for −0); ORT warns about those.
  const read = new Set(e.nodes.flatMap((n) => n.inputs));
  const model: ModelDef = {
    graph: {
      name: g.name,
      nodes: e.nodes,
      initializers: e.initializers.filter((t) => read.has(t.name)),
      inputs: [{ name: INPUT_NAME, elemType: DataType.FLOAT, dims: ['batch', ...g.input] }],
      outputs: [{ name: outputName, elemType: DataType.FLOAT, dims: ['batch', ...outShape] }],
    },
  };
  return { model, layerOf };
}

/** Builds the ONNX model bytes for `graph` with its bound weights. */
export function buildOnnxModel(
  graph: Graph,
  bound: BoundWeight[],
  options: OnnxBuildOptions = {},
): Uint8Array {
  return encodeModel(buildOnnxGraph(graph, bound, options));
}
