/**
 * The TensorFlow.js engine: the graph run by the executor (batch norm folded, conv + bias +
 * activation in one op where tfjs fuses them), outputting logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BoundWeight, Graph } from '../../spec/types.js';
import type { InferenceEngine } from '../types.js';
import { TfjsExecutor } from './executor.js';

export class TfjsEngine implements InferenceEngine {
  readonly kind = 'tfjs' as const;
  private constructor(
    private readonly model: TfjsExecutor,
    private readonly inputShape: [number, number, number],
  ) {}

  static create(graph: Graph, bound: BoundWeight[]): TfjsEngine {
    return new TfjsEngine(TfjsExecutor.create(graph, bound, { logits: true }), graph.input);
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
