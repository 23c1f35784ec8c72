/**
 * Grad-CAM (Selvaraju et al. 2017, arXiv:1610.02391) with TensorFlow.js gradients: for the layer
 * output A and the pre-softmax score y_c, α_k = mean over positions of ∂y_c/∂A_k and the map is
 * ReLU(Σ_k α_k A_k), divided by its maximum (a map of zeros stays zeros).
 *
 * The graph runs unfolded and unfused (batch norm kept, activations apart) so every layer of the
 * spec has the value its PyTorch module computes. The gradient with respect to A reruns, as a
 * function of A, only the nodes that depend on A; every other node (a skip connection's far side,
 * a parallel branch) is held as the constant the forward pass computed, which is what autograd does.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BoundWeight, Graph } from '../../spec/types.js';
import { TfjsExecutor } from './executor.js';
import { INPUT_NAME } from '../../spec/types.js';
import { lookup } from '../../invariant.js';

export interface GradcamResult {
  /** The class explained, per image. */
  classes: number[];
  /** n maps of height × width, row-major, each in [0, 1]. */
  maps: Float32Array;
  height: number;
  width: number;
}

/** The nodes that read `layer`, directly or through others (what must be rerun as a function of it). */
function descendants(nodes: readonly { name: string; inputs: string[] }[], layer: string): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) if (n.inputs.some((i) => i === layer || out.has(i))) out.add(n.name);
  return out;
}

/** Each map divided by its own maximum; a map with no positive value stays zeros. */
function normalizeEach(raw: Float32Array, n: number, cells: number): Float32Array {
  const out = new Float32Array(raw.length);
  for (let i = 0; i < n; i++) {
    let max = 0;
    for (let j = 0; j < cells; j++) max = Math.max(max, raw[i * cells + j]);
    if (max > 0) for (let j = 0; j < cells; j++) out[i * cells + j] = raw[i * cells + j] / max;
  }
  return out;
}

export class GradcamExplainer {
  private constructor(
    private readonly executor: TfjsExecutor,
    private readonly inputShape: [number, number, number],
  ) {}

  static create(graph: Graph, bound: BoundWeight[]): GradcamExplainer {
    const executor = TfjsExecutor.create(graph, bound, {
      logits: true,
      foldBatchNorm: false,
      fuseActivations: false,
      differentiable: true,
    });
    return new GradcamExplainer(executor, graph.input);
  }

  /**
   * Maps at `layer` for n images (NHWC, row-major); `wanted[i]` is the class to explain for image i,
   * or undefined for its top class.
   */
  async explain(
    input: Float32Array,
    n: number,
    layer: string,
    wanted: (number | undefined)[],
  ): Promise<GradcamResult> {
    const nodes = this.executor.nodes;
    const rerun = descendants(nodes, layer);
    const output = this.executor.outputName;
    const { cam, classes } = tf.tidy(() => {
      const x = tf.tensor4d(input, [n, ...this.inputShape]);
      const forward = this.executor.evaluate(new Map([[INPUT_NAME, x]]));
      const a = lookup(forward, layer, 'layer output') as tf.Tensor4D;
      const logits = lookup(forward, output, 'logits') as tf.Tensor2D;
      const top = tf.argMax(logits, 1).arraySync() as number[];
      const classes = wanted.map((c, i) => c ?? top[i]);
      const pick = tf.oneHot(classes, logits.shape[1]);
      // Σ_i y_{i,c_i}: image i's score depends on image i's A only, so one gradient serves the batch.
      const score = (at: tf.Tensor) => {
        const values = new Map([...forward].filter(([name]) => !rerun.has(name)));
        values.set(layer, at);
        return tf.sum(tf.mul(lookup(this.executor.evaluate(values), output, 'logits'), pick));
      };
      const grads = tf.grad(score)(a);
      const alpha = tf.mean(grads, [1, 2], true);
      return { cam: tf.relu(tf.sum(tf.mul(alpha, a), 3)), classes };
    });
    try {
      const [, height, width] = cam.shape;
      const raw = (await cam.data()) as Float32Array;
      return { classes, maps: normalizeEach(raw, n, height * width), height, width };
    } finally {
      cam.dispose();
    }
  }

  dispose(): void {
    this.executor.dispose();
  }
}
