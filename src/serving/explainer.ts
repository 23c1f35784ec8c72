/**
 * Grad-CAM requests, queued and batched apart from plain classification: one batcher per model with
 * its own bounded queue (EXPLAIN_QUEUE_LIMIT images; a request that does not fit is refused 503
 * with Retry-After); one explanation batch computes at a time, whatever its model, so explanations
 * never hold more than one worker while plain requests wait for the others. The worker computes with TensorFlow.js whichever
 * engine serves the model's predictions (src/engines/explainers.ts).
 */
import type { InferencePool } from '../engines/pool.js';
import { EXPLAIN_EXTRA, explainRowWidth, packExplainImage } from '../engines/gradcam-batch.js';
import { type BatchImage, batchInput } from '../engines/batch-input.js';
import { pixelsToInput } from '../engines/pixels.js';
import { spatialLayers, type SpatialLayer } from '../engines/gradcam-layers.js';
import { Batcher, type BatchObserver, type BatchSettings, type JobTimings } from './batcher.js';
import type { ExplainRequest } from './explain-options.js';
import { holdVersion, type ReadyModel, servingKey } from './served-model.js';

export interface CamResult {
  /** The class explained. */
  classIndex: number;
  height: number;
  width: number;
  /** height × width values in [0, 1], row-major. */
  data: number[];
}

export type ExplainSettings = Omit<BatchSettings, 'concurrency'>;

interface ModelExplainer {
  graph: ReadyModel['graph'];
  layers: SpatialLayer[];
  batcher: Batcher;
}

export class ExplainService {
  private readonly models = new Map<string, ModelExplainer>();
  private closed = false;
  /** The batch computing (or the last one); the next one starts when it ends. */
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly pool: InferencePool,
    private readonly settings: ExplainSettings,
    private readonly observer: (model: string) => BatchObserver = () => ({}),
  ) {}

  /** The layers `m` can be explained at (spatial outputs, in execution order). */
  layers(m: ReadyModel): SpatialLayer[] {
    return this.of(m).layers;
  }

  private of(m: ReadyModel): ModelExplainer {
    // The workers hold each version's copy under its own name (a new version, or a reload, is a new
    // engineName), so an explanation is computed from the weights of the version that answers.
    const key = servingKey(m);
    const known = this.models.get(key);
    // A reloaded model is a new graph: its layers and queue start afresh.
    if (known && known.graph === m.graph) return known;
    const layers = spatialLayers(m.graph);
    const pixels = m.input[0] * m.input[1] * m.input[2];
    const batcher = new Batcher(
      m.name,
      { ...this.settings, concurrency: 1 },
      // A batch waiting here for another model's counts as computing in that model's metrics.
      // Float images only (explain() normalises pixels first): batchInput hands back their floats.
      (batch) => this.oneAtATime(() => this.pool.explain(key, batchInput(batch), batch.n)),
      pixels + EXPLAIN_EXTRA,
      explainRowWidth(layers),
      this.observer(m.name),
    );
    if (this.closed) batcher.close();
    const entry = { graph: m.graph, layers, batcher };
    this.models.set(key, entry);
    return entry;
  }

  private oneAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = this.running.then(work, work);
    this.running = run.catch(() => undefined);
    return run;
  }

  /**
   * One map per image, in order; `images` are the model's input tensors or decoded pixels. Pixels
   * are normalised here, on the event loop, with the worker's arithmetic (src/engines/pixels.ts):
   * explanations are rare and each costs far more than that, so their batch format stays floats.
   */
  async explain(
    m: ReadyModel,
    images: BatchImage[],
    request: ExplainRequest,
    signal?: AbortSignal,
  ): Promise<{ maps: CamResult[]; timings: JobTimings }> {
    const { batcher } = this.of(m);
    const packed = images.map((image) =>
      packExplainImage(
        image instanceof Float32Array ? image : pixelsToInput(image),
        request.layerIndex,
        request.classIndex,
      ),
    );
    // The version's copies stay in the workers until this ends, even if a new version replaces it.
    const { logits: rows, timings } = await holdVersion(m, batcher.submit(packed, signal));
    const { height, width } = request.layer;
    const maps = rows.map((row) => ({
      classIndex: row[0],
      height,
      width,
      data: Array.from(row.subarray(1, 1 + height * width)),
    }));
    return { maps, timings };
  }

  /** Stops taking work; what is queued still runs. */
  close(): void {
    this.closed = true;
    for (const m of this.models.values()) m.batcher.close();
  }

  /** Resolves when no explanation is queued or computing. */
  async idle(): Promise<void> {
    await Promise.all([...this.models.values()].map((m) => m.batcher.idle()));
  }
}
