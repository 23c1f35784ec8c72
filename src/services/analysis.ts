/**
 * Resolves what a caller asked to analyse (a zoo name with options, a spec, a Keras/tfjs model
 * JSON, an ONNX file, or a served model's graph) into a graph and runs the analyzer within the
 * configured limits. Shared by the HTTP route and the CLI.
 */
import { ZOO, zooNames } from '../../models/index.js';
import { AppError, closestNames, describeValue, SpecError, SpecLimitError } from '../errors.js';
import { DEFAULT_SPEC_LIMITS, normalizeSpec } from '../spec/normalize.js';
import type { ArchitectureSpec, Graph, Shape3 } from '../spec/types.js';
import { detectModelFormat, graphFromKerasConfig, graphFromTfjsModelJson } from '../interop/keras/import.js';
import { readGivenInput } from '../interop/keras/topology.js';
import { graphFromOnnx } from '../interop/onnx/import.js';
import { readOnnxModel } from '../interop/onnx/read.js';
import { analyzeGraph, type AnalysisReport } from '../analysis/analyze.js';
import { compareReports, type Comparison } from '../analysis/compare.js';
import type { Optimizer } from '../analysis/training.js';

/** A request's `training`: both fields optional (the optimizer defaults to adam, the batch to the analysis batch). */
export interface TrainingRequest {
  batch?: number;
  optimizer?: Optimizer;
}

export interface ModelTarget {
  model: string;
  input?: Shape3;
  classes?: number;
  includeTop?: boolean;
}
export interface SpecTarget {
  spec: ArchitectureSpec;
}
/** A Keras `model.to_json()` config or a tfjs layers-model `model.json`, posted as it is. */
export type ImportedTarget = Record<string, unknown>;
/** An ONNX file's bytes; `input` [H, W, C] for symbolic sizes. The bytes are read for shapes and let go. */
export interface OnnxTarget {
  onnx: Uint8Array;
  input?: Shape3;
}
/** A graph the caller already has (a served model's). */
export interface GraphTarget {
  graph: Graph;
}
export type AnalyzeTarget = ModelTarget | SpecTarget | OnnxTarget | GraphTarget | ImportedTarget;

export interface AnalyzeLimits {
  maxLayers: number;
  maxMacs: number;
  /** Served models' names, offered with the built-in ones when a name is not found. */
  servedNames?: readonly string[];
}

export const DEFAULT_ANALYZE_LIMITS: AnalyzeLimits = {
  maxLayers: DEFAULT_SPEC_LIMITS.maxLayers,
  maxMacs: 1e15,
};

export class UnknownModelError extends AppError {
  constructor(name: string, field = 'model', served: readonly string[] = []) {
    const available = [...zooNames(), ...served];
    const suggestions = closestNames(name, available);
    const hint = suggestions.length
      ? ` Did you mean ${suggestions.map((s) => JSON.stringify(s)).join(' or ')}?`
      : '';
    super(
      404,
      'UNKNOWN_MODEL',
      `${field}: expected a built-in architecture${served.length ? ' or a served model' : ''}; received ${JSON.stringify(name)}.${hint} Available: ${available.join(', ')}`,
      {
        field,
        received: name,
        expected: served.length
          ? 'a built-in architecture or served model name'
          : 'a built-in architecture name',
        suggestions,
        available,
      },
    );
  }
}

const isModelTarget = (t: AnalyzeTarget): t is ModelTarget => typeof (t as ModelTarget).model === 'string';
const isSpecTarget = (t: AnalyzeTarget): t is SpecTarget => 'spec' in t;
const isOnnxTarget = (t: AnalyzeTarget): t is OnnxTarget => (t as OnnxTarget).onnx instanceof Uint8Array;
const isGraphTarget = (t: AnalyzeTarget): t is GraphTarget =>
  typeof (t as GraphTarget).graph === 'object' && Array.isArray((t as GraphTarget).graph?.nodes);

/** Builds the spec for a zoo model, or returns the caller's spec. */
export function specFor(
  target: ModelTarget | SpecTarget,
  field = '',
  servedNames: readonly string[] = [],
): ArchitectureSpec {
  if (isSpecTarget(target)) return target.spec;
  const entry = ZOO.get(target.model);
  if (!entry) throw new UnknownModelError(target.model, `${field}model`, servedNames);
  return entry.build({ input: target.input, classes: target.classes, includeTop: target.includeTop });
}

export function graphFor(
  target: AnalyzeTarget | string,
  limits: AnalyzeLimits = DEFAULT_ANALYZE_LIMITS,
  field = '',
): Graph {
  // A Keras config saved as a JSON string (json.dump(model.to_json())) is decoded once.
  if (typeof target === 'string') return importedGraph(decodeJsonText(target, field), limits, field);
  if (isGraphTarget(target)) return target.graph;
  if (isOnnxTarget(target)) {
    return graphFromOnnx(readOnnxModel(target.onnx, `${field || 'body'}`), {
      input: target.input,
      limits: { ...DEFAULT_SPEC_LIMITS, maxLayers: limits.maxLayers },
    }).graph;
  }
  if (!isModelTarget(target) && !isSpecTarget(target)) return importedGraph(target, limits, field);
  const spec = specFor(target, field, limits.servedNames);
  try {
    return normalizeSpec(spec, { ...DEFAULT_SPEC_LIMITS, maxLayers: limits.maxLayers });
  } catch (err) {
    throw isSpecTarget(target) ? prefixField(err, `${field}spec.`, field) : err;
  }
}

function importedGraph(body: ImportedTarget, limits: AnalyzeLimits, field: string): Graph {
  // `input` beside the model: the size to analyse at (required when the model leaves sizes open).
  const { input, ...model } = body;
  const options = {
    limits: { ...DEFAULT_SPEC_LIMITS, maxLayers: limits.maxLayers },
    ...(input === undefined ? {} : { input: readGivenInput(input) }),
  };
  switch (detectModelFormat(model)) {
    case 'keras-config':
      return graphFromKerasConfig(model, options);
    case 'tfjs-layers-model':
    case 'tfjs-graph-model':
      return graphFromTfjsModelJson(model, options);
    default:
      throw new AppError(
        400,
        'VALIDATION_ERROR',
        `${field || 'body'}: expected {model}, {spec}, {compare}, a Keras model config or a tfjs model.json; received an object with keys ${Object.keys(body).slice(0, 8).join(', ')}`,
        { field: field || 'body' },
      );
  }
}

function decodeJsonText(text: string, field: string): ImportedTarget {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError(
      400,
      'INVALID_MODEL_CONFIG',
      `${field || 'body'}: expected a model config; received a string that is not JSON (${(err as Error).message})`,
      { field: field || 'body' },
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError(
      400,
      'INVALID_MODEL_CONFIG',
      `${field || 'body'}: expected a Keras model config; received a JSON string holding ${describeValue(value)}`,
      { field: field || 'body' },
    );
  }
  return value as ImportedTarget;
}

/**
 * Spec errors name paths inside the spec; in a request they live under `spec.` (or `compare[i].spec.`).
 * A report total past the exact range names the report's field (`totals.macs`), which is not in the spec.
 */
function prefixField(err: unknown, prefix: string, reportPrefix: string): unknown {
  if (!(err instanceof SpecError) && !(err instanceof SpecLimitError)) return err;
  const field = err.detail.field ?? '';
  const inReport = field.startsWith('totals.') || field.startsWith('bottlenecks');
  const chosen = inReport ? reportPrefix : prefix;
  const detail = { ...err.detail, field: `${chosen}${field}` };
  return new AppError(err.statusCode, err.code, `${chosen}${err.message}`, detail);
}

export function analyzeTarget(
  target: AnalyzeTarget | string,
  options: { batch?: number; training?: TrainingRequest; limits?: AnalyzeLimits; field?: string } = {},
): AnalysisReport {
  const limits = options.limits ?? DEFAULT_ANALYZE_LIMITS;
  const graph = graphFor(target, limits, options.field ?? '');
  let report: AnalysisReport;
  try {
    const training = options.training && {
      batch: options.training.batch,
      optimizer: options.training.optimizer ?? 'adam',
    };
    report = analyzeGraph(graph, { batch: options.batch, training });
  } catch (err) {
    throw typeof target !== 'string' &&
      !isOnnxTarget(target) &&
      !isGraphTarget(target) &&
      isSpecTarget(target)
      ? prefixField(err, `${options.field ?? ''}spec.`, options.field ?? '')
      : err;
  }
  // Every count is exact by now (the analyzer refuses any past 2^53); this is the work limit.
  if (report.totals.macs > limits.maxMacs) {
    throw new SpecLimitError(
      `${options.field ?? ''}totals.macs`,
      report.totals.macs,
      `a network of at most ${limits.maxMacs} MACs (ANALYZE_MAX_MACS)`,
    );
  }
  return report;
}

export function compareTargets(
  a: AnalyzeTarget,
  b: AnalyzeTarget,
  options: { batch?: number; training?: TrainingRequest; limits?: AnalyzeLimits } = {},
) {
  const ra = analyzeTarget(a, { ...options, field: 'compare[0].' });
  const rb = analyzeTarget(b, { ...options, field: 'compare[1].' });
  return {
    reports: [ra, rb] as [AnalysisReport, AnalysisReport],
    comparison: compareReports(ra, rb) satisfies Comparison,
  };
}
