/**
 * The Grad-CAM options of a request, `explain`, `explainLayer` and `explainClass`, read from a query
 * string, a JSON body or multipart fields (all strings there) and checked against the model: a bad
 * value is a 400 naming the field, what was received and what would do.
 */
import { AppError, describeValue } from '../errors.js';
import type { SpatialLayer } from '../engines/gradcam-layers.js';
import { defaultGradcamLayer } from '../engines/gradcam-layers.js';

export const EXPLAIN_METHODS = ['gradcam'] as const;
export type ExplainMethod = (typeof EXPLAIN_METHODS)[number];

/** The options as received (strings from a query or multipart, typed values from JSON). */
export interface RawExplainOptions {
  explain?: unknown;
  explainLayer?: unknown;
  explainClass?: unknown;
}

export interface ExplainRequest {
  method: ExplainMethod;
  layerIndex: number;
  layer: SpatialLayer;
  /** Undefined: each image's top class. */
  classIndex?: number;
}

const invalid = (field: string, received: unknown, expected: string) =>
  new AppError(
    400,
    'VALIDATION_ERROR',
    `${field}: expected ${expected}; received ${describeValue(received)}`,
    {
      field,
      received,
      expected,
    },
  );

/** `explain` as asked: undefined when the request wants no explanation. */
export function readExplainMethod(value: unknown, field: string): ExplainMethod | undefined {
  if (value === undefined || value === '' || value === false || value === 'false') return undefined;
  // A bare flag (the CLI's --explain, a checkbox) asks for the one method there is.
  if (value === true || value === 'true') return 'gradcam';
  if (EXPLAIN_METHODS.includes(value as ExplainMethod)) return value as ExplainMethod;
  throw invalid(field, value, `one of ${EXPLAIN_METHODS.join(', ')} (or true)`);
}

/**
 * The explanation a request asks of a model with these spatial layers and `classes` classes, or
 * undefined when it asks for none. `fields` names where each option came from, for the message.
 */
export function resolveExplainRequest(
  raw: RawExplainOptions,
  layers: readonly SpatialLayer[],
  classes: number,
  fields: { explain: string; explainLayer: string; explainClass: string },
): ExplainRequest | undefined {
  const method = readExplainMethod(raw.explain, fields.explain);
  if (!method) {
    // Layer or class without explain is most likely a forgotten explain: say so rather than ignore it.
    for (const key of ['explainLayer', 'explainClass'] as const)
      if (raw[key] !== undefined && raw[key] !== '')
        throw invalid(fields.explain, raw.explain, `gradcam when ${fields[key]} is given`);
    return undefined;
  }
  const fallback = defaultGradcamLayer(layers);
  if (!fallback)
    throw new AppError(
      400,
      'NOT_EXPLAINABLE',
      'explain: the model has no layer with a spatial output to explain',
      {
        field: fields.explain,
        received: method,
      },
    );
  let layerIndex = layers.indexOf(fallback);
  if (raw.explainLayer !== undefined && raw.explainLayer !== '') {
    layerIndex = layers.findIndex((l) => l.name === raw.explainLayer);
    if (layerIndex < 0)
      throw invalid(
        fields.explainLayer,
        raw.explainLayer,
        `the name of a layer with a spatial output: ${layers.map((l) => l.name).join(', ')}`,
      );
  }
  let classIndex: number | undefined;
  if (raw.explainClass !== undefined && raw.explainClass !== '') {
    const n = typeof raw.explainClass === 'number' ? raw.explainClass : Number(raw.explainClass);
    if (typeof raw.explainClass === 'boolean' || !Number.isInteger(n) || n < 0 || n >= classes)
      throw invalid(fields.explainClass, raw.explainClass, `a class index from 0 to ${classes - 1}`);
    classIndex = n;
  }
  return { method, layerIndex, layer: layers[layerIndex], classIndex };
}
