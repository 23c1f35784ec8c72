/** A text rendering of a profile report (src/analysis/profile.ts): formatting only. */
import type { ProfileReport } from './profile.js';
import { render } from './table.js';

const n = (x: number) => x.toLocaleString('en-US');
const ms = (x: number) => x.toFixed(3);

export function formatProfile(report: ProfileReport): string {
  const rule = '='.repeat(100);
  const out = [
    rule,
    `${report.model} on ${report.engine}: median of ${report.runs} runs, batch ${report.batch}`,
    `method: ${report.method}`,
    rule,
  ];
  const rows = [['Layer (kind)', 'Median ms', 'Share', 'MACs', 'GFLOP/s', 'With']];
  for (const r of report.rows) {
    rows.push([
      r.kind === r.layer ? r.layer : `${r.layer} (${r.kind})`,
      ms(r.medianMs),
      `${(100 * r.share).toFixed(1)}%`,
      r.macs ? n(r.macs) : '--',
      r.macs ? r.gflops.toFixed(1) : '--',
      r.layers.slice(1).join(', '),
    ]);
  }
  out.push(...render(rows, ['l', 'r', 'r', 'r', 'r', 'l']), rule);
  out.push(`Sum of the rows' medians: ${ms(report.totalMs)} ms; median whole run: ${ms(report.runMs)} ms`);
  if (report.untimed.length)
    out.push(`Untimed layers (not run, or run inside another row): ${report.untimed.join(', ')}`);
  if (report.unattributedNodes.length)
    out.push(`Unattributed engine nodes: ${report.unattributedNodes.join(', ')}`);
  const top = [...report.rows].sort((a, b) => b.medianMs - a.medianMs).slice(0, 5);
  out.push(
    rule,
    `Slowest: ${top.map((r) => `${r.layer} ${(100 * r.share).toFixed(1)}%${r.macs ? ` at ${r.gflops.toFixed(1)} GFLOP/s` : ''}`).join('; ')}`,
  );
  return out.join('\n');
}
