/**
 * One error policy for the whole app: every error a client can cause is an AppError with a stable
 * `code`, an HTTP status and a message that names the field, the value received and what was expected.
 * Anything else is a bug and is answered with a 500 that leaks nothing.
 */
export interface ErrorDetail {
  /** Where the problem is: a request field, or a layer path in a spec. */
  field?: string;
  received?: unknown;
  expected?: string;
  [extra: string]: unknown;
}

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly detail: ErrorDetail = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** Renders a received value for an error message without echoing megabytes back. */
export function describeValue(value: unknown, max = 80): string {
  let text: string;
  try {
    text = value === undefined ? 'undefined' : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** A spec that is well-formed JSON but does not describe a valid network. */
export class SpecError extends AppError {
  constructor(field: string, received: unknown, expected: string, code = 'INVALID_SPEC') {
    super(400, code, `${field}: expected ${expected}; received ${describeValue(received)}`, {
      field,
      received: summarise(received),
      expected,
    });
    this.name = 'SpecError';
  }
}

/** A spec too large to analyse within the service's limits. */
export class SpecLimitError extends AppError {
  constructor(field: string, received: unknown, expected: string) {
    super(413, 'SPEC_TOO_LARGE', `${field}: expected ${expected}; received ${describeValue(received)}`, {
      field,
      received: summarise(received),
      expected,
    });
    this.name = 'SpecLimitError';
  }
}

function summarise(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const text = describeValue(value, 200);
  return text.length > 200 ? text : value;
}

/** Edit distance between two names, with `-`/`_` and case counted as the same. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase().replace(/-/g, '_');
  const y = b.toLowerCase().replace(/-/g, '_');
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[y.length];
}

/** The few candidates closest to a name that was not found (for "did you mean" in a 404). */
export function closestNames(name: string, candidates: readonly string[], count = 3): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  return candidates
    .map((c) => ({ c, d: distance(name, c) }))
    .filter(({ d }) => d <= limit)
    .sort((p, q) => p.d - q.d || p.c.localeCompare(q.c))
    .slice(0, count)
    .map(({ c }) => c);
}
