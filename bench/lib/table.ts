// Fixed-width text tables for the benchmark reports: a column is as wide as its title or its
// widest expected value, text is left-aligned and figures right-aligned, columns two spaces apart.

export interface Column {
  title: string;
  /** The widest value expected; the title's length when that is larger. */
  width?: number;
  align?: 'left' | 'right';
}

export function table(columns: Column[]): { header: string; row: (...cells: (string | number)[]) => string } {
  const widths = columns.map((c) => Math.max(c.title.length, c.width ?? 0));
  const line = (cells: (string | number)[]) =>
    columns
      .map((c, i) => {
        const text = String(cells[i] ?? '');
        return c.align === 'left' ? text.padEnd(widths[i]) : text.padStart(widths[i]);
      })
      .join('  ')
      .trimEnd();
  return { header: line(columns.map((c) => c.title)), row: (...cells) => line(cells) };
}
