/** A torchinfo-like text rendering of a report: formatting only, all numbers come from the rows. */
import type { AnalysisReport } from './analyze.js';

const n = (x: number) => x.toLocaleString('en-US');
const shape = (s: readonly number[]) => s.join('x');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** Rows of cells as aligned text columns (shared with the profile table). */
export function render(rows: string[][], align: ('l' | 'r')[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

export function formatReport(report: AnalysisReport, options: { layers?: boolean } = {}): string {
  const out: string[] = [];
  const rule = '='.repeat(100);
  out.push(rule, `${report.model}  input ${shape(report.input)}  output ${shape(report.output)}`, rule);
  if (options.layers !== false) {
    const rows = [['Layer (kind)', 'Block', 'Output shape', 'Params', 'MACs', 'RF']];
    for (const r of report.layers) {
      rows.push([
        `${r.name} (${r.kind})`,
        r.blockPath[r.blockPath.length - 1] ?? '',
        shape(r.outputShape),
        r.params ? n(r.params) : '--',
        r.macs ? n(r.macs) : '--',
        r.receptiveField && r.receptiveFieldStride
          ? `${r.receptiveField[0]}/${r.receptiveFieldStride[0]}`
          : '',
      ]);
    }
    out.push(...render(rows, ['l', 'l', 'l', 'r', 'r', 'r']), rule);
  }
  const t = report.totals;
  out.push(
    `Total params: ${n(t.params)}`,
    `Trainable params: ${n(t.trainableParams)}`,
    `Non-trainable params: ${n(t.nonTrainableParams)}`,
    `Total MACs: ${n(t.macs)} (${(t.macs / 1e9).toFixed(3)} G; FLOPs ${n(t.flops)})`,
    `Weights: ${mb(t.weightBytes)}; activations per image: ${mb(t.activationBytesPerImage)}; peak activations (batch ${report.batch}): ${mb(t.peakActivationBytes)} at ${t.peakActivationLayer}`,
    rule,
  );
  if (report.training) {
    const { bytes, macs, batch, optimizer } = report.training;
    out.push(
      `Training step (batch ${batch}, ${optimizer}): weights ${mb(bytes.weights)} + gradients ${mb(bytes.gradients)} + optimizer state ${mb(bytes.optimizerState)} + saved activations ${mb(bytes.savedActivations)} = ${mb(bytes.total)}`,
      `MACs per step: forward ${n(macs.forward)} + input gradients ${n(macs.backwardInput)} + weight gradients ${n(macs.backwardWeights)} = ${n(macs.step)}`,
      rule,
    );
  }
  if (report.bottlenecks.length) {
    const rows = [
      ['Bottleneck (k×k conv ← 1x1 reduction)', 'Input', 'Reduced to', 'MACs without', 'MACs with', 'Ratio'],
    ];
    for (const b of report.bottlenecks) {
      rows.push([
        `${b.conv} ← ${b.reduction}`,
        shape(b.inputShape),
        String(b.reducedChannels),
        n(b.macsWithout),
        `${n(b.reductionMacs)} + ${n(b.convMacs)} = ${n(b.macsWith)}`,
        b.ratio.toFixed(3),
      ]);
    }
    out.push(...render(rows, ['l', 'l', 'r', 'r', 'r', 'r']), rule);
  }
  if (report.blocks.inception.length) {
    const rows = [['Inception module / branch', 'Output', 'Params', 'MACs', 'Share']];
    for (const m of report.blocks.inception) {
      rows.push([m.name, shape(m.outputShape), n(m.params), n(m.macs), pct(m.macShare)]);
      for (const b of m.branches)
        rows.push([`  ${b.name}`, `${b.outputChannels} ch`, n(b.params), n(b.macs), pct(b.macShare)]);
    }
    out.push(...render(rows, ['l', 'l', 'r', 'r', 'r']), rule);
  }
  if (report.blocks.residual.length) {
    const rows = [['Residual block', 'Shortcut', 'Output', 'Params', 'MACs', 'Shortcut MACs', 'Share']];
    for (const b of report.blocks.residual) {
      rows.push([
        b.name,
        b.shortcut,
        shape(b.outputShape),
        n(b.params),
        n(b.macs),
        n(b.shortcutMacs),
        pct(b.macShare),
      ]);
    }
    out.push(...render(rows, ['l', 'l', 'l', 'r', 'r', 'r', 'r']), rule);
  }
  const top = [['Most expensive layers', 'Output', 'MACs', 'Share']];
  for (const l of report.topLayers)
    top.push([`${l.name} (${l.kind})`, shape(l.outputShape), n(l.macs), pct(l.macShare)]);
  out.push(...render(top, ['l', 'l', 'r', 'r']), rule);
  return out.join('\n');
}
