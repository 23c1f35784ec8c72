/**
 * Every count the service reports (a dimension, a parameter, a MAC, a byte) is exact: a safe integer.
 * A network whose counts leave that range is refused with a 413 that says so, rather than answered with
 * a rounded number, Infinity, or the null JSON writes for it.
 */
import { SpecLimitError } from '../errors.js';

export const EXACT_LIMIT_TEXT = '2^53 − 1 (9007199254740991)';
/** What the refusal reports as received: the computed value is past the exact range, so it is not the true one. */
export const BEYOND_EXACT = 'more than 2^53 − 1';

/**
 * `value` when it is a safe non-negative integer; otherwise a SpecLimitError naming `field` and `what`.
 * Callers check each quantity where it is first computed from exact inputs, so the first one to leave the
 * range is the one named.
 */
export function exact(value: number, field: string, what: string): number {
  if (Number.isSafeInteger(value) && value >= 0) return value;
  if (Number.isInteger(value) || !Number.isFinite(value)) {
    throw new SpecLimitError(
      field,
      BEYOND_EXACT,
      `${what} of at most ${EXACT_LIMIT_TEXT}, so that it is exact`,
    );
  }
  // A fraction or a negative count is a rule's bug, not the caller's input.
  throw new Error(`internal: ${field}: ${what} is ${value}, not a count`);
}
