/**
 * A Grad-CAM map for a terminal: one character per cell, darker to denser (" .:-=+*#%@"), so the
 * hot region shows at a glance beside the labels. The numbers themselves are in --json.
 */
const RAMP = ' .:-=+*#%@';

export function mapAsText(map: { height: number; width: number; data: number[] }, indent = '  '): string {
  const rows: string[] = [];
  for (let y = 0; y < map.height; y++) {
    let row = '';
    for (let x = 0; x < map.width; x++) {
      const v = map.data[y * map.width + x];
      // Each cell twice, as terminal characters are about twice as tall as wide.
      row += RAMP[Math.min(RAMP.length - 1, Math.floor(v * RAMP.length))].repeat(2);
    }
    rows.push(`${indent}|${row}|`);
  }
  return `${rows.join('\n')}\n`;
}
