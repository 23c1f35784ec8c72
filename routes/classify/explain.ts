/**
 * The Grad-CAM part of POST /classify: the options checked against the model before any image is
 * decoded, then one explanation per image (the map from the explanation queue, and the overlay
 * drawn over the uploaded image) added beside its predictions.
 */
import type { FastifyInstance } from 'fastify';
import {
  resolveExplainRequest,
  type ExplainRequest,
  type RawExplainOptions,
} from '../../src/serving/explain-options.js';
import { overlayDataUrl } from '../../src/serving/overlay.js';
import type { ReadyModel } from '../../src/serving/registry.js';
import type { PixelImage } from '../../src/engines/pixels.js';

export interface Explanation {
  method: 'gradcam';
  layer: string;
  class: number;
  label: string;
  map: { height: number; width: number; data: number[] };
  overlay: string;
}

/** What a /classify request asks to explain (undefined: nothing); 400 for a bad option. */
export function classifyExplainRequest(
  app: FastifyInstance,
  m: ReadyModel,
  raw: RawExplainOptions,
): ExplainRequest | undefined {
  return resolveExplainRequest(raw, app.explainer.layers(m), m.classes, {
    explain: 'explain',
    explainLayer: 'explainLayer',
    explainClass: 'explainClass',
  });
}

/** One explanation per image, in order, and the time the maps took. */
export async function explainImages(
  app: FastifyInstance,
  m: ReadyModel,
  request: ExplainRequest,
  uploads: { bytes: Uint8Array }[],
  images: PixelImage[],
  signal: AbortSignal,
): Promise<{ explanations: Explanation[]; explainMs: number }> {
  const t0 = performance.now();
  const { maps } = await app.explainer.explain(m, images, request, signal);
  const explanations = await Promise.all(
    maps.map(async (cam, i) => ({
      method: request.method,
      layer: request.layer.name,
      class: cam.classIndex,
      label: m.labels[cam.classIndex],
      map: { height: cam.height, width: cam.width, data: cam.data },
      overlay: await overlayDataUrl(uploads[i].bytes, cam, m.preprocess, app.config.maxImagePixels),
    })),
  );
  return { explanations, explainMs: performance.now() - t0 };
}
