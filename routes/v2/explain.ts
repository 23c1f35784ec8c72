/**
 * Grad-CAM on the KServe v2 infer endpoint: request parameters `explain` ("gradcam" or true),
 * `explainLayer` and `explainClass`, as on /classify. The maps come back as one more output tensor,
 * `gradcam` (FP32 [N, h, w], each map in [0, 1], its `parameters.layer` naming the layer), and the
 * classes explained as `gradcam_class` (INT32 [N]). There is no overlay: a v2 input is a
 * preprocessed tensor, not an image.
 */
import type { FastifyInstance } from 'fastify';
import { resolveExplainRequest, type ExplainRequest } from '../../src/serving/explain-options.js';
import type { ReadyModel } from '../../src/serving/registry.js';

export const EXPLAIN_OUTPUTS = ['gradcam', 'gradcam_class'] as const;

/** What the request's parameters ask to explain (undefined: nothing); 400 for a bad value. */
export function kserveExplainRequest(
  app: FastifyInstance,
  m: ReadyModel,
  parameters: Record<string, unknown> | undefined,
): ExplainRequest | undefined {
  return resolveExplainRequest(parameters ?? {}, app.explainer.layers(m), m.classes, {
    explain: 'parameters.explain',
    explainLayer: 'parameters.explainLayer',
    explainClass: 'parameters.explainClass',
  });
}

/** The two explanation output tensors for `images`, from the explanation queue. */
export async function kserveExplainOutputs(
  app: FastifyInstance,
  m: ReadyModel,
  request: ExplainRequest,
  images: Float32Array[],
  signal: AbortSignal,
) {
  const { maps } = await app.explainer.explain(m, images, request, signal);
  const { height, width } = request.layer;
  return [
    {
      name: 'gradcam',
      datatype: 'FP32',
      shape: [maps.length, height, width],
      parameters: { layer: request.layer.name },
      data: maps.flatMap((cam) => cam.data),
    },
    {
      name: 'gradcam_class',
      datatype: 'INT32',
      shape: [maps.length],
      data: maps.map((cam) => cam.classIndex),
    },
  ];
}
