/**
 * One /analyze request as plain data, and the function that answers it with the report's JSON bytes.
 * The job crosses to an analysis worker thread (structured clone, a file's bytes transferred), so
 * everything here is data: no functions, no class instances, no app state. Served models are resolved
 * to their graphs on the main thread before a job is made.
 */
import { AppError } from '../errors.js';
import type { AnalysisReport } from '../analysis/analyze.js';
import type { Shape3 } from '../spec/types.js';
import {
  type AnalyzeLimits,
  type AnalyzeTarget,
  analyzeTarget,
  compareTargets,
  type TrainingRequest,
} from './analysis.js';

/** Which layer rows a response carries: all of them (up to `limit`), a page, or none. */
export interface LayerPage {
  layers: 'all' | 'none';
  offset: number;
  limit: number;
}

export type AnalysisJob = {
  limits: AnalyzeLimits;
  page: LayerPage;
  batch?: number;
  training?: TrainingRequest;
} & (
  | { kind: 'target'; target: AnalyzeTarget | string }
  /**
   * A request's JSON text, already parsed and validated on the main thread, parsed again here: a
   * spec of hundreds of layers crosses as one string (0.03 ms) where its parsed objects took the
   * event loop 0.2-0.4 ms to clone.
   */
  | { kind: 'json'; text: string }
  | { kind: 'compare'; targets: [AnalyzeTarget, AnalyzeTarget] }
  /** A model file's bytes: an ONNX file, or the JSON of a Keras config / tfjs model.json. */
  | { kind: 'file'; bytes: Uint8Array; input?: Shape3 }
);

/** Where a response's layer rows stop short of the report's, so a client can ask for the rest. */
export interface LayersPage {
  offset: number;
  limit: number;
  returned: number;
  total: number;
  /** The offset of the next page, when there is one. */
  next?: number;
}

export function runAnalysisJob(job: AnalysisJob): Uint8Array {
  const options = { batch: job.batch, training: job.training, limits: job.limits };
  let body: unknown;
  if (job.kind === 'compare') {
    const { reports, comparison } = compareTargets(job.targets[0], job.targets[1], options);
    body = { comparison, reports: reports.map((r) => paged(r, job.page)) };
  } else {
    const target =
      job.kind === 'file'
        ? fileTarget(job.bytes, job.input, 'body')
        : job.kind === 'json'
          ? (JSON.parse(job.text) as AnalyzeTarget)
          : job.target;
    body = paged(analyzeTarget(target, options), job.page);
  }
  // Serialised here, off the event loop, into a buffer of its own so it can be transferred without
  // copying. Our own text in a report (the conventions) keeps to ASCII: Node encodes an ASCII string
  // with a block copy, and any other on a per-character path (ResNet-152's 300 KB: 0.03 against
  // 0.5 ms, beside 1.5 ms of JSON.stringify; src/analysis/conventions.ts).
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  // Small results come from Node's shared pool, which must not be transferred.
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : new Uint8Array(bytes);
}

/** The report with its layer rows cut to the page; `layersPage` says so when any were left out. */
function paged(report: AnalysisReport, page: LayerPage): AnalysisReport & { layersPage?: LayersPage } {
  const total = report.layers.length;
  const offset = page.layers === 'none' ? 0 : Math.min(page.offset, total);
  const limit = page.layers === 'none' ? 0 : page.limit;
  const layers = report.layers.slice(offset, offset + limit);
  if (layers.length === total) return report;
  const next = offset + layers.length < total && limit > 0 ? offset + layers.length : undefined;
  return {
    ...report,
    layers,
    layersPage: { offset, limit, returned: layers.length, total, ...(next === undefined ? {} : { next }) },
  };
}

/** A file's bytes as a target: JSON text (a Keras config or tfjs model.json) or an ONNX model. */
export function fileTarget(
  bytes: Uint8Array,
  input: Shape3 | undefined,
  field: string,
): AnalyzeTarget | string {
  if (bytes.length === 0)
    throw new AppError(400, 'EMPTY_BODY', `${field}: expected a model file; received an empty one`, {
      field,
      received: '',
      expected: 'an ONNX file or model JSON',
    });
  const decoder = new TextDecoder();
  const first = decoder.decode(bytes.subarray(0, 64)).trimStart()[0];
  if (first === '{' || first === '"') {
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(bytes));
    } catch (err) {
      throw new AppError(400, 'INVALID_JSON', `${field}: expected valid JSON; ${(err as Error).message}`, {
        field,
        expected: 'valid JSON',
      });
    }
    if (typeof json === 'string') return json;
    return (input ? { ...(json as Record<string, unknown>), input } : json) as AnalyzeTarget;
  }
  return { onnx: bytes, ...(input ? { input } : {}) };
}
