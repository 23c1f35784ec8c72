/**
 * The fast tfjs interpreter of a graph: tensor ops instead of LayersModel layers, with batch norm
 * folded into the conv before it at load time and the following activation fused into the conv
 * (tf.fused.conv2d: conv + bias + activation in one kernel). Same graph, same weights, same numbers
 * as the LayersModel (a test holds them to 1e-4); the LayersModel stays the reference that
 * proves shapes and parameter counts against tfjs' own.
 */
import * as tf from '@tensorflow/tfjs';
import { resolvePads } from '../analysis/geometry.js';
import { inferShapes, type ShapedGraph } from '../analysis/shapes.js';
import { INPUT_NAME, type ActivationFn, type Graph, type GraphNode, type GraphNodeOf } from '../spec/types.js';
import type { BoundWeight } from '../weights/bind.js';
import { paddedPool } from './custom-layers.js';
import { finalSoftmax } from './final-softmax.js';
import { UnsupportedLayerError } from './tfjs-builder.js';

export interface FusedOptions {
  /** Leave out the final softmax and return logits. */
  logits?: boolean;
  /** Fold a batch norm into the conv it directly follows (default true). */
  foldBatchNorm?: boolean;
  /** Fuse the activation that directly follows a conv or dense into it (default true). */
  fuseActivations?: boolean;
}

type FusableActivation = 'relu' | 'relu6' | 'sigmoid' | 'linear';
const FUSABLE = new Set<ActivationFn>(['relu', 'relu6', 'sigmoid', 'linear']);

interface ConvStep {
  kind: 'conv';
  node: GraphNodeOf<'conv2d'>;
  filter: tf.Tensor4D;
  bias?: tf.Tensor1D;
  activation: FusableActivation;
  /** The node whose value this step produces (the conv, its batch norm, or the fused activation). */
  produces: string;
}
interface DenseStep {
  kind: 'dense';
  node: GraphNodeOf<'dense'>;
  kernel: tf.Tensor2D;
  bias?: tf.Tensor1D;
  activation: ActivationFn;
  produces: string;
}
interface BnStep {
  kind: 'batchnorm';
  node: GraphNodeOf<'batchnorm'>;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  offset?: tf.Tensor1D;
  scale?: tf.Tensor1D;
  produces: string;
}
interface PlainStep {
  kind: 'plain';
  node: GraphNode;
  produces: string;
}
type Step = ConvStep | DenseStep | BnStep | PlainStep;

/** Readers of each value, to know when a value has exactly one reader (and can be fused away). */
function readers(graph: Graph): Map<string, GraphNode[]> {
  const map = new Map<string, GraphNode[]>();
  for (const n of graph.nodes) for (const i of n.inputs) map.set(i, [...(map.get(i) ?? []), n]);
  return map;
}

export class FusedTfjsModel {
  private constructor(
    private readonly steps: Step[],
    private readonly graph: Graph,
    private readonly shaped: ShapedGraph,
    private readonly tensors: tf.Tensor[],
    /** Output aliases: a skipped (fused) node's value is its producer's. */
    private readonly alias: Map<string, string>,
    /** The final softmax left out for logits, if any. */
    private readonly stripped: GraphNode | undefined,
  ) {}

  static create(graph: Graph, bound: BoundWeight[], options: FusedOptions = {}): FusedTfjsModel {
    const fold = options.foldBatchNorm ?? true;
    const fuse = options.fuseActivations ?? true;
    const shaped = inferShapes(graph);
    const weights = new Map(bound.map((w) => [`${w.layer}/${w.weight}`, w]));
    const get = (layer: string, name: string) => weights.get(`${layer}/${name}`)?.data;
    const byReader = readers(graph);
    const stripped = options.logits ? finalSoftmax(graph) : undefined;
    const tensors: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T) => (tensors.push(t), t);
    const skipped = new Set<string>();
    const alias = new Map<string, string>();
    const onlyReader = (name: string): GraphNode | undefined => {
      const r = byReader.get(name) ?? [];
      return r.length === 1 && name !== graph.output ? r[0] : undefined;
    };
    const steps: Step[] = [];

    for (const node of graph.nodes) {
      if (skipped.has(node.name)) continue;
      if (node.kind === 'conv2d') {
        const a = node.attrs;
        if (a.groups !== 1) throw new UnsupportedLayerError(node, `groups=${a.groups} is not supported by the tfjs engine (analysis only)`);
        const cout = a.filters;
        let kernel = Float32Array.from(get(node.name, 'kernel')!);
        let bias = a.bias ? Float32Array.from(get(node.name, 'bias')!) : undefined;
        let produces = node.name;
        const next = onlyReader(node.name);
        if (fold && next?.kind === 'batchnorm') {
          // w' = w·γ/√(σ²+ε) per output channel (the last HWIO axis); b' = (b − μ)·γ/√(σ²+ε) + β.
          const bn = next.attrs;
          const gamma = bn.scale ? get(next.name, 'gamma')! : undefined;
          const beta = bn.center ? get(next.name, 'beta')! : undefined;
          const mean = get(next.name, 'moving_mean')!;
          const variance = get(next.name, 'moving_variance')!;
          const folded = new Float32Array(cout);
          const scales = new Float32Array(cout);
          for (let o = 0; o < cout; o++) {
            scales[o] = (gamma ? gamma[o] : 1) / Math.sqrt(variance[o] + bn.epsilon);
            folded[o] = ((bias ? bias[o] : 0) - mean[o]) * scales[o] + (beta ? beta[o] : 0);
          }
          for (let i = 0; i < kernel.length; i++) kernel[i] *= scales[i % cout];
          bias = folded;
          skipped.add(next.name);
          alias.set(next.name, node.name);
          produces = next.name;
        }
        let activation: FusableActivation = 'linear';
        const act = onlyReader(produces);
        if (fuse && act?.kind === 'activation' && FUSABLE.has(act.attrs.function) && act !== stripped) {
          activation = act.attrs.function as FusableActivation;
          skipped.add(act.name);
          alias.set(act.name, node.name);
          produces = act.name;
        }
        alias.set(produces, node.name);
        steps.push({
          kind: 'conv', node, produces, activation,
          filter: keep(tf.tensor4d(kernel, [a.kernel[0], a.kernel[1], shaped.shapes.get(node.inputs[0])![2], cout])),
          bias: bias ? keep(tf.tensor1d(bias)) : undefined,
        });
      } else if (node.kind === 'dense') {
        const a = node.attrs;
        const fn: ActivationFn = node === stripped ? 'linear' : a.activation;
        const inputs = shaped.shapes.get(node.inputs[0])![0];
        steps.push({
          kind: 'dense', node, produces: node.name, activation: fn,
          kernel: keep(tf.tensor2d(get(node.name, 'kernel')!, [inputs, a.units])),
          bias: a.bias ? keep(tf.tensor1d(get(node.name, 'bias')!)) : undefined,
        });
      } else if (node.kind === 'batchnorm') {
        const a = node.attrs;
        steps.push({
          kind: 'batchnorm', node, produces: node.name,
          mean: keep(tf.tensor1d(get(node.name, 'moving_mean')!)),
          variance: keep(tf.tensor1d(get(node.name, 'moving_variance')!)),
          offset: a.center ? keep(tf.tensor1d(get(node.name, 'beta')!)) : undefined,
          scale: a.scale ? keep(tf.tensor1d(get(node.name, 'gamma')!)) : undefined,
        });
      } else {
        steps.push({ kind: 'plain', node, produces: node.name });
      }
    }
    return new FusedTfjsModel(steps, graph, shaped, tensors, alias, stripped);
  }

  private resolve(name: string): string {
    let n = name;
    while (this.alias.has(n) && this.alias.get(n) !== n) n = this.alias.get(n)!;
    return n;
  }

  /** Runs the graph on an NHWC batch; the caller owns the result (everything else is freed). */
  predict(x: tf.Tensor4D): tf.Tensor {
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor>([[INPUT_NAME, x]]);
      const read = (name: string) => values.get(this.resolve(name)) ?? values.get(name)!;
      for (const step of this.steps) {
        values.set(step.node.name, this.run(step, step.node.inputs.map(read)));
      }
      return read(this.graph.output);
    });
  }

  private run(step: Step, ins: tf.Tensor[]): tf.Tensor {
    switch (step.kind) {
      case 'conv': {
        const a = step.node.attrs;
        const pad = a.padding.mode === 'explicit'
          ? [[0, 0], [a.padding.top, a.padding.bottom], [a.padding.left, a.padding.right], [0, 0]] as tf.backend_util.ExplicitPadding
          : a.padding.mode;
        return tf.fused.conv2d({ x: ins[0] as tf.Tensor4D, filter: step.filter, strides: a.strides, pad, dilations: a.dilation, bias: step.bias, activation: step.activation });
      }
      case 'dense': {
        const fused = FUSABLE.has(step.activation);
        const y = tf.fused.matMul({ a: ins[0] as tf.Tensor2D, b: step.kernel, bias: step.bias, activation: fused ? (step.activation as FusableActivation) : 'linear' });
        return fused ? y : applyActivation(y, step.activation);
      }
      case 'batchnorm':
        return tf.batchNorm(ins[0], step.mean, step.variance, step.offset, step.scale, step.node.attrs.epsilon);
      case 'plain':
        return this.plain(step.node, ins);
    }
  }

  private plain(node: GraphNode, ins: tf.Tensor[]): tf.Tensor {
    const x = ins[0];
    switch (node.kind) {
      case 'activation':
        return node === this.stripped ? x : applyActivation(x, node.attrs.function);
      case 'zeropad': {
        const p = node.attrs.padding;
        return tf.pad(x, [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]]);
      }
      case 'maxpool':
      case 'avgpool': {
        const a = node.attrs;
        const explicit = a.padding.mode === 'explicit' && a.padding.top + a.padding.bottom + a.padding.left + a.padding.right > 0;
        if (!explicit && !a.ceilMode) {
          const pad = a.padding.mode === 'same' ? 'same' : 'valid';
          return node.kind === 'maxpool' ? tf.maxPool(x as tf.Tensor4D, a.pool, a.strides, pad) : tf.avgPool(x as tf.Tensor4D, a.pool, a.strides, pad);
        }
        const s = this.shaped.shapes.get(node.inputs[0])!;
        const pads = resolvePads(a.padding, [s[0], s[1]], a.pool, a.strides);
        return paddedPool(x as tf.Tensor4D, { mode: node.kind === 'maxpool' ? 'max' : 'avg', pool: a.pool, strides: a.strides, pads, ceilMode: a.ceilMode, countIncludePad: a.countIncludePad });
      }
      case 'globalavgpool':
        return tf.mean(x, [1, 2]);
      case 'globalmaxpool':
        return tf.max(x, [1, 2]);
      case 'flatten':
        return tf.reshape(x, [x.shape[0], -1]);
      case 'dropout':
        return x;
      case 'add':
        return node.attrs.scale === 1 ? tf.add(ins[0], ins[1]) : tf.add(ins[0], tf.mul(ins[1], node.attrs.scale));
      case 'concat':
        return ins.length === 1 ? x : tf.concat(ins, -1);
      default:
        throw new Error(`internal: ${node.kind} is executed by its own step`);
    }
  }

  dispose(): void {
    tf.dispose(this.tensors);
  }
}

function applyActivation(x: tf.Tensor, fn: ActivationFn): tf.Tensor {
  switch (fn) {
    case 'relu':
      return tf.relu(x);
    case 'relu6':
      return tf.relu6(x);
    case 'sigmoid':
      return tf.sigmoid(x);
    case 'tanh':
      return tf.tanh(x);
    case 'softmax':
      return tf.softmax(x, -1);
    case 'linear':
      return x;
  }
}
