/**
 * The TensorFlow.js interpreter of a graph: tensor ops, one table entry per layer kind. The graph
 * is first prepared by the shared inference passes (src/spec/passes: batch norm folded into the
 * conv before it, the final softmax left out for logits); then an activation read only by a conv
 * or dense layer is fused into it (tf.fused: conv + bias + activation in one kernel).
 * Weights arrive in our layout (HWIO, [in, out]), which is tfjs' own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { resolvePads } from '../../spec/geometry.js';
import { prepareForInference, type InferenceOptions } from '../../spec/passes/index.js';
import { inferShapes } from '../../spec/shapes.js';
import { LINEAR } from '../../spec/activations.js';
import {
  INPUT_NAME,
  type Activation,
  type BoundWeight,
  type Graph,
  type GraphNode,
  type GraphNodeOf,
  type LeafKind,
  type TensorShape,
} from '../../spec/types.js';
import { applyActivation, fusable } from './activations.js';
import { paddedPool } from './padded-pool.js';
import { lookup } from '../../invariant.js';

export interface ExecutorOptions extends InferenceOptions {
  /** Fuse the activation that directly follows a conv or dense into it (default true). */
  fuseActivations?: boolean;
  /**
   * Build for gradients (default false): plain convolutions, never tf.fused.conv2d, whose gradient
   * also computes its filter's, for which the wasm backend has no kernel (a plain op's gradient
   * computes only what is asked); max pooling whose gradient breaks ties as PyTorch does.
   * Grad-CAM builds with this.
   */
  differentiable?: boolean;
}

/** What building one node's op may use. */
interface OpContext<K extends LeafKind> {
  node: GraphNodeOf<K>;
  inputShapes: TensorShape[];
  outputShape: TensorShape;
  /** A bound weight of this node (our layout). */
  weight(name: string): BoundWeight;
  /** A bound weight of this node as a tensor the model owns (freed by dispose). */
  tensor(weight: string, shape?: number[]): tf.Tensor;
  /** A constant the model owns. */
  constant(values: number[] | Float32Array, shape: number[]): tf.Tensor;
  /** The activation fused into this node (conv2d and dense only; linear otherwise). */
  fused: Activation;
  /** Plain ops only (ExecutorOptions.differentiable). */
  differentiable: boolean;
}
/** Runs one node on its input values (inside the executor's tidy). */
type Op = (ins: tf.Tensor[]) => tf.Tensor;
type OpBuilder<K extends LeafKind> = (cx: OpContext<K>) => Op;

const tfPadding = (node: GraphNodeOf<'conv2d'>): 'same' | 'valid' | tf.backend_util.ExplicitPadding => {
  const p = node.attrs.padding;
  return p.mode === 'explicit'
    ? [
        [0, 0],
        [p.top, p.bottom],
        [p.left, p.right],
        [0, 0],
      ]
    : p.mode;
};

/** Our HWIO kernel [kh, kw, Cin/groups, Cout] as tfjs wants it, per kind of grouping. */
function convOp(cx: OpContext<'conv2d'>): Op {
  const a = cx.node.attrs;
  const cin = cx.inputShapes[0][2];
  const pad = tfPadding(cx.node);
  const bias = a.bias ? (cx.tensor('bias') as tf.Tensor1D) : undefined;
  const act = fusable(cx.fused);
  const finish = (y: tf.Tensor) => (act ? y : applyActivation(y, cx.fused));
  const fusedAct = act ?? 'linear';
  if (a.groups === 1 && cx.differentiable) {
    const filter = cx.tensor('kernel') as tf.Tensor4D;
    return ([x]) => {
      const y = tf.conv2d(x as tf.Tensor4D, filter, a.strides, pad, 'NHWC', a.dilation);
      return applyActivation(bias ? tf.add(y, bias) : y, cx.fused);
    };
  }
  if (a.groups === 1) {
    const filter = cx.tensor('kernel') as tf.Tensor4D;
    return ([x]) =>
      finish(
        tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter,
          strides: a.strides,
          pad,
          dilations: a.dilation,
          bias,
          activation: fusedAct,
        }),
      );
  }
  // Differentiable depthwise convolutions take the grouped path: wasm has no kernel for the
  // depthwise gradient, while one plain conv per channel differentiates anywhere (slower).
  if (a.groups === cin && !cx.differentiable) {
    // Depthwise: [kh, kw, 1, C·m] holds the elements of tfjs' [kh, kw, C, m] in the same order.
    const filter = cx.tensor('kernel', [a.kernel[0], a.kernel[1], cin, a.filters / cin]) as tf.Tensor4D;
    // The fused depthwise op pads by keyword or one number for every side; other padding goes first.
    const p = a.padding;
    const even = p.mode !== 'explicit' || (p.top === p.bottom && p.left === p.right && p.top === p.left);
    const dwPad = p.mode === 'explicit' ? (even ? p.top : 'valid') : p.mode;
    const padFirst = (x: tf.Tensor) =>
      even || p.mode !== 'explicit'
        ? x
        : tf.pad(x, [
            [0, 0],
            [p.top, p.bottom],
            [p.left, p.right],
            [0, 0],
          ]);
    return ([x]) =>
      finish(
        tf.fused.depthwiseConv2d({
          x: padFirst(x) as tf.Tensor4D,
          filter,
          strides: a.strides,
          pad: dwPad,
          dilations: a.dilation,
          bias,
          activation: fusedAct,
        }),
      );
  }
  // Grouped: tfjs has no grouped conv; each group's channels convolved with its slice of filters.
  const perGroupOut = a.filters / a.groups;
  const kernel = cx.weight('kernel').data;
  const filters = Array.from({ length: a.groups }, (_, g) => {
    const slice = new Float32Array(kernel.length / a.groups);
    for (let at = 0, i = 0; at < kernel.length; at += a.filters) {
      for (let o = 0; o < perGroupOut; o++) slice[i++] = kernel[at + g * perGroupOut + o];
    }
    return cx.constant(slice, [a.kernel[0], a.kernel[1], cin / a.groups, perGroupOut]) as tf.Tensor4D;
  });
  return ([x]) => {
    const parts = tf
      .split(x, a.groups, 3)
      .map((xs, g) => tf.conv2d(xs as tf.Tensor4D, filters[g], a.strides, pad, 'NHWC', a.dilation));
    const y = tf.concat(parts, 3);
    return applyActivation(bias ? tf.add(y, bias) : y, cx.fused);
  };
}

function poolOp(cx: OpContext<'maxpool' | 'avgpool'>): Op {
  const a = cx.node.attrs;
  const max = cx.node.kind === 'maxpool';
  const explicit =
    a.padding.mode === 'explicit' && a.padding.top + a.padding.bottom + a.padding.left + a.padding.right > 0;
  // Differentiable max pooling takes the padded path, whose gradient breaks ties as PyTorch does.
  if (!explicit && !a.ceilMode && !(max && cx.differentiable)) {
    const pad = a.padding.mode === 'same' ? 'same' : 'valid';
    return ([x]) =>
      max
        ? tf.maxPool(x as tf.Tensor4D, a.pool, a.strides, pad)
        : tf.avgPool(x as tf.Tensor4D, a.pool, a.strides, pad);
  }
  const s = cx.inputShapes[0];
  const pads = resolvePads(a.padding, [s[0], s[1]], a.pool, a.strides);
  return ([x]) =>
    paddedPool(x as tf.Tensor4D, {
      mode: max ? 'max' : 'avg',
      pool: a.pool,
      strides: a.strides,
      pads,
      ceilMode: a.ceilMode,
      countIncludePad: a.countIncludePad,
      firstMaxGradient: cx.differentiable,
    });
}

/** A per-channel (or single) value broadcast over NHWC or NC. */
const channelConstant = (cx: OpContext<LeafKind>, values: number[]) =>
  cx.constant(values, values.length === 1 ? [] : [values.length]);

const OPS: { [K in LeafKind]: OpBuilder<K> } = {
  conv2d: convOp,
  batchnorm(cx) {
    const a = cx.node.attrs;
    const mean = cx.tensor('moving_mean');
    const variance = cx.tensor('moving_variance');
    const offset = a.center ? cx.tensor('beta') : undefined;
    const scale = a.scale ? cx.tensor('gamma') : undefined;
    return ([x]) => tf.batchNorm(x, mean, variance, offset, scale, a.epsilon);
  },
  activation:
    (cx) =>
    ([x]) =>
      applyActivation(x, cx.node.attrs),
  zeropad(cx) {
    const p = cx.node.attrs.padding;
    return ([x]) =>
      tf.pad(x, [
        [0, 0],
        [p.top, p.bottom],
        [p.left, p.right],
        [0, 0],
      ]);
  },
  maxpool: poolOp,
  avgpool: poolOp,
  globalavgpool:
    (cx) =>
    ([x]) =>
      tf.mean(x, [1, 2], cx.node.attrs.keepdims),
  globalmaxpool:
    (cx) =>
    ([x]) =>
      tf.max(x, [1, 2], cx.node.attrs.keepdims),
  flatten:
    () =>
    ([x]) =>
      tf.reshape(x, [x.shape[0], -1]),
  dense(cx) {
    const a = cx.node.attrs;
    const kernel = cx.tensor('kernel') as tf.Tensor2D;
    const bias = a.bias ? cx.tensor('bias') : undefined;
    // The layer's own activation and one fused after it cannot both be non-linear (the fuser checks).
    const activation = a.activation.function === 'linear' ? cx.fused : a.activation;
    const act = fusable(activation);
    return ([x]) => {
      const y = tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel, bias, activation: act ?? 'linear' });
      return act ? y : applyActivation(y, activation);
    };
  },
  dropout:
    () =>
    ([x]) =>
      x,
  add(cx) {
    const scale = cx.node.attrs.scale;
    return (ins) =>
      ins.slice(1).reduce((sum, y, i) => tf.add(sum, i === 0 && scale !== 1 ? tf.mul(y, scale) : y), ins[0]);
  },
  concat: () => (ins) => (ins.length === 1 ? ins[0] : tf.concat(ins, -1)),
  multiply: () => (ins) => ins.slice(1).reduce((p, y) => tf.mul(p, y), ins[0]),
  reshape:
    (cx) =>
    ([x]) =>
      tf.reshape(x, [x.shape[0], ...cx.outputShape]),
  rescaling(cx) {
    const scale = channelConstant(cx, cx.node.attrs.scale);
    const offset = channelConstant(cx, cx.node.attrs.offset);
    return ([x]) => tf.add(tf.mul(x, scale), offset);
  },
  normalization(cx) {
    const a = cx.node.attrs;
    const mean = a.mean ?? Array.from(cx.weight('mean').data);
    const variance = a.variance ?? Array.from(cx.weight('variance').data);
    // (x − mean) / max(√var, ε), as a multiply by the reciprocal computed once in float64.
    const inv = variance.map((v) => 1 / Math.max(Math.sqrt(v), a.epsilon));
    const meanT = channelConstant(cx, mean);
    const invT = channelConstant(cx, inv);
    return ([x]) => tf.mul(tf.sub(x, meanT), invT);
  },
};

/** Kinds that take a following activation into their own kernel. */
const FUSES: ReadonlySet<LeafKind> = new Set<LeafKind>(['conv2d', 'dense']);

interface Step {
  node: GraphNode;
  op: Op;
}

export class TfjsExecutor {
  private constructor(
    private readonly steps: Step[],
    private readonly output: string,
    private readonly tensors: tf.Tensor[],
  ) {}

  /** Builds the executor for `graph` with its bound weights (our layout); the weights are copied into tensors. */
  static create(graph: Graph, bound: BoundWeight[], options: ExecutorOptions = {}): TfjsExecutor {
    const prepared = prepareForInference(graph, bound, options);
    const g = prepared.graph;
    const shaped = inferShapes(g);
    const weights = new Map(prepared.weights.map((w) => [`${w.layer}/${w.weight}`, w]));
    const tensors: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T) => {
      tensors.push(t);
      return t;
    };
    const readers = new Map<string, GraphNode[]>();
    for (const n of g.nodes) for (const i of n.inputs) readers.set(i, [...(readers.get(i) ?? []), n]);

    // An activation read only from a conv/dense (not the output's producer) runs inside it.
    const fusedInto = new Map<string, GraphNodeOf<'activation'>>();
    const skipped = new Map<string, string>();
    if (options.fuseActivations ?? true) {
      for (const n of g.nodes) {
        const r = readers.get(n.name) ?? [];
        const next = r[0];
        if (
          !FUSES.has(n.kind) ||
          r.length !== 1 ||
          n.name === g.output ||
          next.kind !== 'activation' ||
          !fusable(next.attrs)
        )
          continue;
        if (n.kind === 'dense' && n.attrs.activation.function !== 'linear') continue;
        fusedInto.set(n.name, next);
        skipped.set(next.name, n.name);
      }
    }

    const steps: Step[] = [];
    for (const { node, inputShapes, outputShape } of shaped.nodes) {
      if (skipped.has(node.name)) continue;
      const cx: OpContext<LeafKind> = {
        node,
        inputShapes,
        outputShape,
        weight(name) {
          const w = weights.get(`${node.name}/${name}`);
          if (!w) throw new Error(`no bound weight ${node.name}/${name}`);
          return w;
        },
        tensor(name, shape) {
          const w = this.weight(name);
          return keep(tf.tensor(w.data, shape ?? w.shape, 'float32'));
        },
        constant: (values, shape) => keep(tf.tensor(values, shape, 'float32')),
        fused: fusedInto.get(node.name)?.attrs ?? LINEAR,
        differentiable: options.differentiable ?? false,
      };
      const build = OPS[node.kind] as OpBuilder<LeafKind>;
      steps.push({ node, op: build(cx) });
    }
    const resolve = (name: string) => skipped.get(name) ?? name;
    for (const s of steps) s.node = { ...s.node, inputs: s.node.inputs.map(resolve) } as GraphNode;
    return new TfjsExecutor(steps, resolve(g.output), tensors);
  }

  /** Runs the graph on an NHWC batch; the caller owns the result (everything else is freed). */
  predict(x: tf.Tensor4D): tf.Tensor {
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor>([[INPUT_NAME, x]]);
      for (const { node, op } of this.steps)
        values.set(node.name, op(node.inputs.map((n) => lookup(values, n, 'tensor'))));
      return lookup(values, this.output, 'tensor');
    });
  }

  /** The nodes in execution order, inputs naming the steps that produce them (Grad-CAM walks them). */
  get nodes(): readonly GraphNode[] {
    return this.steps.map((s) => s.node);
  }

  /** The node whose value is the graph's output. */
  get outputName(): string {
    return this.output;
  }

  /**
   * Computes every node missing from `values` (which holds the input and any node held as a
   * constant), in order, and adds it there. Not tidied: the caller runs it inside tf.tidy or tf.grad,
   * which is how Grad-CAM reruns only what depends on one layer.
   */
  evaluate(values: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
    for (const { node, op } of this.steps)
      if (!values.has(node.name))
        values.set(node.name, op(node.inputs.map((n) => lookup(values, n, 'tensor'))));
    return values;
  }

  /**
   * Runs the graph like predict, also returning the milliseconds of each step by the spec layer it
   * ran for (an activation fused into a conv is timed with the conv). The kernels of the wasm, cpu
   * and tfjs-node backends run synchronously, so the wall time around a step's ops is its compute.
   */
  predictTimed(x: tf.Tensor4D): { output: tf.Tensor; ms: Map<string, number> } {
    const ms = new Map<string, number>();
    const output = tf.tidy(() => {
      const values = new Map<string, tf.Tensor>([[INPUT_NAME, x]]);
      for (const { node, op } of this.steps) {
        const inputs = node.inputs.map((n) => lookup(values, n, 'tensor'));
        const t0 = performance.now();
        values.set(node.name, op(inputs));
        ms.set(node.name, performance.now() - t0);
      }
      return lookup(values, this.output, 'tensor');
    });
    return { output, ms };
  }

  dispose(): void {
    tf.dispose(this.tensors);
  }
}
