/**
 * Readers for the attribute values kinds share (sizes, padding, flags, numbers), each checking what
 * it reads and naming the field when it refuses, plus the JSON Schema fragments that describe them.
 */
import { SpecError } from '../../errors.js';
import { makeActivation, type Activation } from '../activations.js';
import type { ExplicitPadding, Pair, Padding } from '../basics.js';

export function positiveInt(value: unknown, at: string, max = 1_000_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new SpecError(at, value, `an integer from 1 to ${max}`);
  }
  return value;
}

export function nonNegativeInt(value: unknown, at: string, max = 10_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new SpecError(at, value, `an integer from 0 to ${max}`);
  }
  return value;
}

export function bool(value: unknown, at: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new SpecError(at, value, 'true or false');
  return value;
}

export function finiteNumber(value: unknown, at: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new SpecError(at, value, `a number from ${min} to ${max}`);
  }
  return value;
}

/** A size written as one number or [h, w]. */
export function pair(value: unknown, at: string, fallback?: Pair, max = 100_000): Pair {
  if (value === undefined && fallback) return fallback;
  if (typeof value === 'number') {
    const n = positiveInt(value, at, max);
    return [n, n];
  }
  if (Array.isArray(value) && value.length === 2) {
    return [positiveInt(value[0], `${at}[0]`, max), positiveInt(value[1], `${at}[1]`, max)];
  }
  throw new SpecError(at, value, 'a positive integer or [height, width]');
}

/** Explicit padding written as n, [ph, pw] or [[top, bottom], [left, right]]. */
export function explicitPadding(value: unknown, at: string): ExplicitPadding {
  const expected = 'a non-negative integer, [ph, pw] or [[top, bottom], [left, right]]';
  if (typeof value === 'number') {
    const p = nonNegativeInt(value, at);
    return { mode: 'explicit', top: p, bottom: p, left: p, right: p };
  }
  if (Array.isArray(value) && value.length === 2) {
    if (typeof value[0] === 'number' && typeof value[1] === 'number') {
      const ph = nonNegativeInt(value[0], `${at}[0]`);
      const pw = nonNegativeInt(value[1], `${at}[1]`);
      return { mode: 'explicit', top: ph, bottom: ph, left: pw, right: pw };
    }
    if (
      Array.isArray(value[0]) &&
      Array.isArray(value[1]) &&
      value[0].length === 2 &&
      value[1].length === 2
    ) {
      return {
        mode: 'explicit',
        top: nonNegativeInt(value[0][0], `${at}[0][0]`),
        bottom: nonNegativeInt(value[0][1], `${at}[0][1]`),
        left: nonNegativeInt(value[1][0], `${at}[1][0]`),
        right: nonNegativeInt(value[1][1], `${at}[1][1]`),
      };
    }
  }
  throw new SpecError(at, value, expected);
}

export function padding(value: unknown, at: string, fallback: 'same' | 'valid'): Padding {
  if (value === undefined) return { mode: fallback };
  if (value === 'same' || value === 'valid') return { mode: value };
  if (typeof value === 'string') throw new SpecError(at, value, `"same", "valid" or explicit padding`);
  return explicitPadding(value, at);
}

/** A list of finite numbers, or one number (a list of one). */
export function numbers(value: unknown, at: string, fallback: number[]): number[] {
  if (value === undefined) return fallback;
  const list = typeof value === 'number' ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.length > 65_536 ||
    list.some((v) => typeof v !== 'number' || !Number.isFinite(v))
  ) {
    throw new SpecError(at, value, 'a finite number or a non-empty list of finite numbers');
  }
  return list as number[];
}

/** An activation written as a name in `<layer>.<field>` (dense's `activation`): its parameters take their defaults. */
export function activationName(value: unknown, layerAt: string, field: string, fallback: string): Activation {
  return makeActivation(value === undefined ? fallback : value, {}, layerAt, field);
}

// JSON Schema fragments for the same values.
export const schema = {
  posInt: { type: 'integer', minimum: 1 },
  size: {
    anyOf: [
      { type: 'integer', minimum: 1 },
      { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 },
    ],
  },
  explicitPadding: {
    anyOf: [
      { type: 'integer', minimum: 0 },
      { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2 },
      {
        type: 'array',
        items: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2 },
        minItems: 2,
        maxItems: 2,
      },
    ],
  },
  padding: {
    anyOf: [
      { type: 'string', enum: ['same', 'valid'] },
      { type: 'integer', minimum: 0 },
      { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2 },
      {
        type: 'array',
        items: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2 },
        minItems: 2,
        maxItems: 2,
      },
    ],
  },
  boolean: { type: 'boolean' },
  number: { type: 'number' },
  numbers: { anyOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' }, minItems: 1 }] },
} as const;
