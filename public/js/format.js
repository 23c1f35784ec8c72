// Formatting only: the API returns exact integers, the page decides how to show them.

const UNITS = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 120422400 → "120.4M", 12443648 → "12.4M", 1814073344 → "1.81G", 139 → "139". */
export function compact(n) {
  if (!Number.isFinite(n)) return '–';
  const sign = n < 0 ? '−' : '';
  let v = Math.abs(n);
  if (v < 1000) return sign + (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1));
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  let text = v.toFixed(v < 10 ? 2 : 1);
  // 999.96K rounds to "1000.0K": carry into the next unit instead.
  if (Number(text) >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
    text = v.toFixed(2);
  }
  return `${sign}${text}${UNITS[u]}`;
}

/** 25636712 → "25,636,712". */
export const int = (n) => (Number.isFinite(n) ? INT.format(n).replace('-', '−') : '–');

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Binary units, since these are memory sizes: 102546848 → "97.8 MiB". */
export function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1);
  return `${n < 0 ? '−' : ''}${text} ${BYTE_UNITS[u]}`;
}

/** A share in [0, 1] as a percentage: 0.1033 → "10.3%". */
export function pct(x, digits = 1) {
  if (!Number.isFinite(x)) return '–';
  if (x > 0 && x * 100 < 10 ** -digits) return `<${(10 ** -digits).toFixed(digits)}%`;
  return `${(x * 100).toFixed(digits)}%`;
}

/** A signed change: "+175,616" or "−19.3M". */
export function signed(n, fmt = int) {
  if (n === 0) return '±0';
  return n > 0 ? `+${fmt(n)}` : fmt(n);
}

/** A ratio b/a: 1.0081 → "×1.008", 0.1033 → "×0.103". */
export function ratio(r) {
  if (!Number.isFinite(r)) return '–';
  return `×${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(3)}`;
}

/** "n× fewer" or "n× more" for a ratio with/without. */
export function fold(r) {
  if (!Number.isFinite(r) || r <= 0) return '–';
  if (r < 1) return `${(1 / r).toFixed(1)}× fewer`;
  if (r > 1) return `${r.toFixed(1)}× more`;
  return 'the same';
}

/** [28, 28, 192] → "28×28×192". */
export const shape = (dims) => (Array.isArray(dims) ? dims.join('×') : '–');

/** A receptive field [7, 7] → "7×7", or "7" when square. */
export function field(rf) {
  if (!Array.isArray(rf)) return '–';
  return rf[0] === rf[1] ? `${rf[0]}×${rf[1]}` : rf.join('×');
}

/** Milliseconds, readable: 0.42 → "0.42 ms", 37.4 → "37 ms", 1530 → "1.53 s". */
export function ms(x) {
  if (!Number.isFinite(x)) return '–';
  if (x < 10) return `${x.toFixed(2)} ms`;
  if (x < 1000) return `${Math.round(x)} ms`;
  return `${(x / 1000).toFixed(2)} s`;
}

/** Drops a block's name from the front of a branch or layer name: "mixed0_branch1x1" → "branch1x1". */
export function shortName(name, prefix) {
  if (prefix && name.startsWith(`${prefix}_`) && name.length > prefix.length + 1)
    return name.slice(prefix.length + 1);
  return name;
}
