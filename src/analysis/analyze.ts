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
import { exact } from '../spec/exact.js';
import { inferShapes, ruleFor, type ShapedGraph, where } from '../spec/shapes.js';
import { lookup } from '../invariant.js';
import { type Optimizer, trainingReport } from './training.js';

function receptiveFields(shaped: ShapedGraph): Map<string, { rf: Pair; jump: Pair }> {
  const fields = new Map<string, { rf: Pair; jump: Pair }>([[INPUT_NAME, { rf: [1, 1], jump: [1, 1] }]]);
  // Plain loops over the inputs: this runs for every layer of every analysis, and the spreads and
  // array-argument Math.max it replaced took two thirds of the per-layer rows' time.
  for (const { node, inputShapes, outputShape } of shaped.nodes) {
    if (outputShape.length !== 3) continue;
    // Where inputs meet, the field is the largest; the stride comes from the inputs on the output's
    // grid. A broadcast input (a squeeze-excitation scale, 1x1) sees the whole map but steps no grid.
    const rf: Pair = [0, 0];
    const jumpOnGrid: Pair = [0, 0];
    const jumpAny: Pair = [0, 0];
    let known = 0;
    let onGrid = 0;
    for (let i = 0; i < node.inputs.length; i++) {
      const f = fields.get(node.inputs[i]);
      if (!f) continue;
      known++;
      rf[0] = Math.max(rf[0], f.rf[0]);
      rf[1] = Math.max(rf[1], f.rf[1]);
      jumpAny[0] = Math.max(jumpAny[0], f.jump[0]);
      jumpAny[1] = Math.max(jumpAny[1], f.jump[1]);
      const shape = inputShapes[i];
      if (shape[0] === outputShape[0] && shape[1] === outputShape[1]) {
        onGrid++;
        jumpOnGrid[0] = Math.max(jumpOnGrid[0], f.jump[0]);
        jumpOnGrid[1] = Math.max(jumpOnGrid[1], f.jump[1]);
      }
    }
    if (known === 0) continue;
    const jump: Pair = onGrid > 0 ? jumpOnGrid : jumpAny;
    const window = ruleFor(node).window?.(node.attrs, inputShapes);
    if (window) {
      const at = where(node);
      for (const axis of [0, 1] as const) {
        rf[axis] = exact(
          rf[axis] + (effectiveKernel(window.kernel[axis], window.dilation[axis]) - 1) * jump[axis],
          at,
          'a receptive field',
        );
        jump[axis] = exact(jump[axis] * window.strides[axis], at, 'a receptive-field stride');
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
    const at = where(node);
    const count = (pick: (w: (typeof weights)[number]) => boolean) =>
      exact(
        weights.filter(pick).reduce((s, w) => s + elements(w.shape), 0),
        at,
        'parameters',
      );
    const trainableParams = count((w) => w.trainable);
    const nonTrainableParams = count((w) => !w.trainable);
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
      params: exact(trainableParams + nonTrainableParams, at, 'parameters'),
      trainableParams,
      nonTrainableParams,
      weights,
      macs: exact(rule.macs(inputShapes, outputShape, node.attrs), at, 'MACs'),
      elementOps: exact(rule.elementOps(inputShapes, outputShape, node.attrs), at, 'element operations'),
      outputElements,
      outputBytes: exact(outputElements * BYTES_PER_ELEMENT, at, 'output bytes'),
      ...(field ? { receptiveField: field.rf, receptiveFieldStride: field.jump } : {}),
    };
  });
}

export function totalsOf(rows: LayerRow[], shaped: ShapedGraph, batch: number): Totals {
  // Each running sum is checked as it grows: past 2^53 an addition may round, and a later one would hide it.
  const sum = (pick: (r: LayerRow) => number, total: string) => {
    // The field's names are built once per total, not once per row (this runs for every analysis).
    const field = `totals.${total}`;
    const what = `a total of ${total}`;
    let s = 0;
    for (const r of rows) s = exact(s + pick(r), field, what);
    return s;
  };
  const macs = sum((r) => r.macs, 'macs');
  const params = sum((r) => r.params, 'params');
  const peak = peakActivationBytes(shaped, batch);
  return {
    layers: rows.length,
    params,
    trainableParams: sum((r) => r.trainableParams, 'trainableParams'),
    nonTrainableParams: sum((r) => r.nonTrainableParams, 'nonTrainableParams'),
    macs,
    flops: exact(2 * macs, 'totals.flops', 'a total of FLOPs'),
    elementOps: sum((r) => r.elementOps, 'elementOps'),
    weightBytes: exact(params * BYTES_PER_ELEMENT, 'totals.weightBytes', 'a total of weight bytes'),
    activationBytesPerImage: sum((r) => r.outputBytes, 'activationBytesPerImage'),
    peakActivationBytes: peak.bytes,
    peakActivationLayer: peak.atLayer,
  };
}

export interface AnalyzeOptions {
  batch?: number;
  /** Training costs for one step: `batch` defaults to the analysis batch. */
  training?: { batch?: number; optimizer: Optimizer };
}

/** Analyses a graph: shapes, per-layer costs, totals and the cost reports. Throws SpecError on bad specs. */
export function analyzeGraph(graph: Graph, options: AnalyzeOptions = {}): AnalysisReport {
  const batch = options.batch ?? 1;
  const shaped = inferShapes(graph);
  const rows = layerRows(shaped);
  const totals = totalsOf(rows, shaped, batch);
  const byName = new Map(rows.map((r) => [r.name, r]));
  const training = options.training
    ? trainingReport(shaped, rows, {
        batch: options.training.batch ?? batch,
        optimizer: options.training.optimizer,
      })
    : undefined;
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
    ...(training ? { training } : {}),
  };
}
