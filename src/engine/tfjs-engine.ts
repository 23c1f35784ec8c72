/** The TensorFlow.js engine: a LayersModel built from the graph, outputting logits. */
import * as tf from '@tensorflow/tfjs';
import { applyWeights } from '../graph/apply-weights.js';
import { buildTfjsModel } from '../graph/tfjs-builder.js';
import type { Graph } from '../spec/types.js';
import type { BoundWeight } from '../weights/bind.js';
import type { InferenceEngine } from './types.js';

export class TfjsEngine implements InferenceEngine {
  readonly kind = 'tfjs' as const;
  private constructor(private readonly model: tf.LayersModel, private readonly inputShape: [number, number, number]) {}

  static create(graph: Graph, bound: BoundWeight[]): TfjsEngine {
    const built = buildTfjsModel(graph, { logits: true });
    applyWeights(built.model, bound);
    return new TfjsEngine(built.model, graph.input);
  }

  async infer(input: Float32Array, n: number): Promise<Float32Array> {
    const x = tf.tensor4d(input, [n, ...this.inputShape]);
    const y = this.model.predict(x) as tf.Tensor;
    try {
      return (await y.data()) as Float32Array;
    } finally {
      tf.dispose([x, y]);
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}
