/**
 * The TensorFlow.js engine: the graph run by the fused op-level executor (batch norm folded into
 * the convs at load time, conv + bias + activation in one op), outputting logits.
 */
import * as tf from '@tensorflow/tfjs';
import { FusedTfjsModel } from '../graph/tfjs-fused.js';
import type { Graph } from '../spec/types.js';
import type { BoundWeight } from '../weights/bind.js';
import type { InferenceEngine } from './types.js';

export class TfjsEngine implements InferenceEngine {
  readonly kind = 'tfjs' as const;
  private constructor(private readonly model: FusedTfjsModel, private readonly inputShape: [number, number, number]) {}

  static create(graph: Graph, bound: BoundWeight[]): TfjsEngine {
    return new TfjsEngine(FusedTfjsModel.create(graph, bound, { logits: true }), graph.input);
  }

  async infer(input: Float32Array, n: number): Promise<Float32Array> {
    const x = tf.tensor4d(input, [n, ...this.inputShape]);
    const y = this.model.predict(x);
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
