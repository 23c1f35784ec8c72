/** Two reports side by side: totals with absolute and relative deltas (B − A, B / A). */
import type { AnalysisReport, Totals } from './analyze.js';

type NumericTotal = { [K in keyof Totals]: Totals[K] extends number ? K : never }[keyof Totals];

const COMPARED: NumericTotal[] = [
  'layers',
  'params',
  'trainableParams',
  'nonTrainableParams',
  'macs',
  'flops',
  'elementOps',
  'weightBytes',
  'peakActivationBytes',
];

export interface Comparison {
  models: [string, string];
  totals: Record<NumericTotal, { a: number; b: number; delta: number; ratio: number | null }>;
  blocks: { a: { residual: number; inception: number }; b: { residual: number; inception: number } };
  bottlenecks: { a: number; b: number };
}

export function compareReports(a: AnalysisReport, b: AnalysisReport): Comparison {
  const totals = {} as Comparison['totals'];
  for (const key of COMPARED) {
    const x = a.totals[key];
    const y = b.totals[key];
    totals[key] = { a: x, b: y, delta: y - x, ratio: x === 0 ? null : y / x };
  }
  const blocks = (r: AnalysisReport) => ({
    residual: r.blocks.residual.length,
    inception: r.blocks.inception.length,
  });
  return {
    models: [a.model, b.model],
    totals,
    blocks: { a: blocks(a), b: blocks(b) },
    bottlenecks: { a: a.bottlenecks.length, b: b.bottlenecks.length },
  };
}
