/**
 * The Grad-CAM explainers of one worker. Each is a tfjs copy of a model's graph built on the first
 * explain request for it, whichever engine serves its predictions: a worker that never explains
 * holds no second copy of the weights.
 */
import { readModelWeights } from '../interop/model-files.js';
import { inferShapes } from '../spec/shapes.js';
import { bindWeights } from '../weights/bind.js';
import { explainRowWidth, unpackExplainBatch, type ExplainJob } from './gradcam-batch.js';
import { spatialLayers, type SpatialLayer } from './gradcam-layers.js';
import { GradcamExplainer } from './tfjs/gradcam.js';
import type { ModelPlan } from './types.js';

let gradients: Promise<unknown> | undefined;
/**
 * tfjs-core alone (what the engines import) has no gradient functions: the umbrella package
 * registers them, into the same tfjs-core, so a worker loads it on its first explanation only.
 */
const gradientsRegistered = () => {
  gradients ??= import('@tensorflow/tfjs');
  return gradients;
};

interface Built {
  explainer: GradcamExplainer;
  layers: SpatialLayer[];
}

export class Explainers {
  private readonly plans = new Map<string, ModelPlan>();
  private readonly built = new Map<string, Promise<Built>>();

  /** A model the worker loaded: it may be explained from now on. */
  remember(plan: ModelPlan): void {
    this.forget(plan.name);
    this.plans.set(plan.name, plan);
  }

  forget(model: string): void {
    this.plans.delete(model);
    const built = this.built.get(model);
    this.built.delete(model);
    built?.then(
      (b) => b.explainer.dispose(),
      () => undefined,
    );
  }

  private get(model: string): Promise<Built> {
    let built = this.built.get(model);
    if (!built) {
      const plan = this.plans.get(model);
      if (!plan) return Promise.reject(new Error(`model ${model} is not loaded in this worker`));
      built = (async () => {
        const file = await readModelWeights(plan.weightsPath);
        const { bound } = bindWeights(inferShapes(plan.graph), file.tensors);
        return { explainer: GradcamExplainer.create(plan.graph, bound), layers: spatialLayers(plan.graph) };
      })();
      // A build that failed is tried again by the next request, not remembered.
      built.catch(() => this.built.get(model) === built && this.built.delete(model));
      this.built.set(model, built);
    }
    return built;
  }

  /** Answers one packed batch (./gradcam-batch.ts): one run per layer asked for. */
  async explain(model: string, input: Float32Array, n: number): Promise<Float32Array> {
    await gradientsRegistered();
    const { explainer, layers } = await this.get(model);
    const width = explainRowWidth(layers);
    const out = new Float32Array(n * width);
    const byLayer = new Map<number, ExplainJob[]>();
    for (const job of unpackExplainBatch(input, n))
      byLayer.set(job.layerIndex, [...(byLayer.get(job.layerIndex) ?? []), job]);
    for (const [layerIndex, jobs] of byLayer) {
      const layer = layers[layerIndex];
      if (!layer) throw new Error(`model ${model} has no spatial layer ${layerIndex}`);
      const pixels = jobs[0].pixels.length;
      const batch = new Float32Array(jobs.length * pixels);
      for (const [i, job] of jobs.entries()) batch.set(job.pixels, i * pixels);
      const result = await explainer.explain(
        batch,
        jobs.length,
        layer.name,
        jobs.map((j) => j.classIndex),
      );
      const cells = result.height * result.width;
      for (const [i, job] of jobs.entries()) {
        out[job.index * width] = result.classes[i];
        out.set(result.maps.subarray(i * cells, (i + 1) * cells), job.index * width + 1);
      }
    }
    return out;
  }
}
