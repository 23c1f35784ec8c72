/**
 * The analyzer: rows first (one per leaf layer, in execution order), totals computed from the
 * rows, reports computed from rows and blocks. Formatting lives elsewhere (table.ts).
 */
export type { AnalysisReport, LayerRow, Totals } from './report-types.js';
import type { Graph, Pair } from '../spec/types.js';
import { INPUT_NAME } from '../spec/types.js';
import { CONVENTIONS } from './conventions.js';
import { BYTES_PER_ELEMENT, peakActivationBytes } from './memory.js';
import type { AnalysisReport, LayerRow, Totals } from './report-types.js';
import { bottleneckReport, inceptionReport, residualReport, topLayers } from './reports.js';
import { effectiveKernel } from '../spec/geometry.js';
import { elements } from '../spec/kinds/shared.js';
import { inferShapes, ruleFor, type ShapedGraph } from '../spec/shapes.js';
import { lookup } from '../invariant.js';

function receptiveFields(shaped: ShapedGraph): Map<string, { rf: Pair; jump: Pair }> {
  const fields = new Map<string, { rf: Pair; jump: Pair }>([[INPUT_NAME, { rf: [1, 1], jump: [1, 1] }]]);
  for (const { node, inputShapes, outputShape } of shaped.nodes) {
    if (outputShape.length !== 3) continue;
    const ins = node.inputs.map((n) => fields.get(n)).filter((f) => f !== undefined);
    if (ins.length === 0) continue;
    const rf: Pair = [Math.max(...ins.map((f) => f.rf[0])), Math.max(...ins.map((f) => f.rf[1]))];
    const jump: Pair = [Math.max(...ins.map((f) => f.jump[0])), Math.max(...ins.map((f) => f.jump[1]))];
    const window = ruleFor(node).window?.(node.attrs, inputShapes);
    if (window) {
      for (const axis of [0, 1] as const) {
        rf[axis] += (effectiveKernel(window.kernel[axis], window.dilation[axis]) - 1) * jump[axis];
        jump[axis] *= window.strides[axis];
      }
    }
    fields.set(node.name, { rf, jump });
  }
  return fields;
}

export function layerRows(shaped: ShapedGraph): LayerRow[] {
  const fields = receptiveFields(shaped);
  return shaped.nodes.map(({ node, inputShapes, outputShape, weights }, index) => {
    const rule = ruleFor(node);
    const trainableParams = weights.filter((w) => w.trainable).reduce((s, w) => s + elements(w.shape), 0);
    const nonTrainableParams = weights.filter((w) => !w.trainable).reduce((s, w) => s + elements(w.shape), 0);
    const outputElements = elements(outputShape);
    const field = fields.get(node.name);
    return {
      index,
      name: node.name,
      kind: node.kind,
      blockPath: node.blockPath,
      inputs: node.inputs,
      inputShapes,
      outputShape,
      params: trainableParams + nonTrainableParams,
      trainableParams,
      nonTrainableParams,
      weights,
      macs: rule.macs(inputShapes, outputShape, node.attrs),
      elementOps: rule.elementOps(inputShapes, outputShape, node.attrs),
      outputElements,
      outputBytes: outputElements * BYTES_PER_ELEMENT,
      ...(field ? { receptiveField: field.rf, receptiveFieldStride: field.jump } : {}),
    };
  });
}

export function totalsOf(rows: LayerRow[], shaped: ShapedGraph, batch: number): Totals {
  const sum = (pick: (r: LayerRow) => number) => rows.reduce((s, r) => s + pick(r), 0);
  const macs = sum((r) => r.macs);
  const params = sum((r) => r.params);
  const peak = peakActivationBytes(shaped, batch);
  return {
    layers: rows.length,
    params,
    trainableParams: sum((r) => r.trainableParams),
    nonTrainableParams: sum((r) => r.nonTrainableParams),
    macs,
    flops: 2 * macs,
    elementOps: sum((r) => r.elementOps),
    weightBytes: params * BYTES_PER_ELEMENT,
    activationBytesPerImage: sum((r) => r.outputBytes),
    peakActivationBytes: peak.bytes,
    peakActivationLayer: peak.atLayer,
  };
}

export interface AnalyzeOptions {
  batch?: number;
}

/** Analyses a graph: shapes, per-layer costs, totals and the cost reports. Throws SpecError on bad specs. */
export function analyzeGraph(graph: Graph, options: AnalyzeOptions = {}): AnalysisReport {
  const batch = options.batch ?? 1;
  const shaped = inferShapes(graph);
  const rows = layerRows(shaped);
  const totals = totalsOf(rows, shaped, batch);
  const byName = new Map(rows.map((r) => [r.name, r]));
  return {
    model: graph.name,
    input: graph.input,
    output: lookup(shaped.shapes, graph.output, 'shape'),
    batch,
    conventions: CONVENTIONS,
    layers: rows,
    totals,
    blocks: {
      residual: residualReport(graph, byName, totals),
      inception: inceptionReport(graph, byName, totals),
    },
    bottlenecks: bottleneckReport(graph, byName),
    topLayers: topLayers(rows, totals, 10),
  };
}
