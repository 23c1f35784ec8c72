/**
 * Reading the attributes of one authored leaf layer into their normalised graph form. Each reader
 * checks the values it reads, so interpreters can trust the graph without checking again.
 */
import { SpecError } from '../errors.js';
import {
  ACTIVATION_FNS,
  type ActivationFn,
  type LeafAttrsByKind,
  type LeafKind,
  type LeafSpec,
  type Pair,
  type Padding,
} from './types.js';

type Reader<K extends LeafKind> = (spec: Record<string, unknown>, at: string) => LeafAttrsByKind[K];

export function positiveInt(value: unknown, at: string, max = 1_000_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new SpecError(at, value, `an integer from 1 to ${max}`);
  }
  return value;
}

function nonNegativeInt(value: unknown, at: string, max = 10_000): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new SpecError(at, value, `an integer from 0 to ${max}`);
  }
  return value;
}

function bool(value: unknown, at: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new SpecError(at, value, 'true or false');
  return value;
}

function finiteNumber(value: unknown, at: string, fallback: number, min: number, max: number): number {
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
function explicitPadding(value: unknown, at: string): Extract<Padding, { mode: 'explicit' }> {
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
    if (Array.isArray(value[0]) && Array.isArray(value[1]) && value[0].length === 2 && value[1].length === 2) {
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

function padding(value: unknown, at: string, fallback: 'same' | 'valid'): Padding {
  if (value === undefined) return { mode: fallback };
  if (value === 'same' || value === 'valid') return { mode: value };
  if (typeof value === 'string') throw new SpecError(at, value, `"same", "valid" or explicit padding`);
  return explicitPadding(value, at);
}

function activationFn(value: unknown, at: string, fallback?: ActivationFn): ActivationFn {
  if (value === undefined && fallback) return fallback;
  if (typeof value === 'string' && (ACTIVATION_FNS as readonly string[]).includes(value)) return value as ActivationFn;
  throw new SpecError(at, value, `one of ${ACTIVATION_FNS.join(', ')}`);
}

function pool(spec: Record<string, unknown>, at: string): LeafAttrsByKind['maxpool'] {
  const size = pair(spec.pool, `${at}.pool`);
  const ceilMode = bool(spec.ceilMode, `${at}.ceilMode`, false);
  const pad = padding(spec.padding, `${at}.padding`, 'valid');
  if (ceilMode && pad.mode === 'same') {
    throw new SpecError(`${at}.ceilMode`, true, 'false when padding is "same" (ceil mode applies to valid or explicit padding)');
  }
  return {
    pool: size,
    strides: pair(spec.strides, `${at}.strides`, size),
    padding: pad,
    ceilMode,
    countIncludePad: bool(spec.countIncludePad, `${at}.countIncludePad`, false),
  };
}

const none = () => ({}) as Record<string, never>;

/** One reader per authored kind: adding a kind is one entry here and one in the rule table. */
const readers: { [K in Exclude<LeafKind, 'add' | 'concat'>]: Reader<K> } = {
  conv2d: (spec, at) => {
    const filters = positiveInt(spec.filters, `${at}.filters`);
    const groups = spec.groups === undefined ? 1 : positiveInt(spec.groups, `${at}.groups`);
    if (filters % groups !== 0) {
      throw new SpecError(`${at}.groups`, groups, `a divisor of filters (${filters})`);
    }
    return {
      filters,
      kernel: pair(spec.kernel, `${at}.kernel`, undefined, 1024),
      strides: pair(spec.strides, `${at}.strides`, [1, 1], 1024),
      padding: padding(spec.padding, `${at}.padding`, 'valid'),
      dilation: pair(spec.dilation, `${at}.dilation`, [1, 1], 1024),
      groups,
      bias: bool(spec.bias, `${at}.bias`, true),
    };
  },
  batchnorm: (spec, at) => ({
    // Keras' default epsilon; torchvision-layout specs set 1e-5 explicitly.
    epsilon: finiteNumber(spec.epsilon, `${at}.epsilon`, 1e-3, 0, 1),
    center: bool(spec.center, `${at}.center`, true),
    scale: bool(spec.scale, `${at}.scale`, true),
  }),
  activation: (spec, at) => ({ function: activationFn(spec.function, `${at}.function`) }),
  zeropad: (spec, at) => ({ padding: explicitPadding(spec.padding, `${at}.padding`) }),
  maxpool: pool,
  avgpool: pool,
  globalavgpool: none,
  globalmaxpool: none,
  flatten: none,
  dense: (spec, at) => ({
    units: positiveInt(spec.units, `${at}.units`),
    bias: bool(spec.bias, `${at}.bias`, true),
    activation: activationFn(spec.activation, `${at}.activation`, 'linear'),
  }),
  dropout: (spec, at) => ({ rate: finiteNumber(spec.rate, `${at}.rate`, 0.5, 0, 0.999999) }),
};

export function isAuthoredLeafKind(kind: unknown): kind is LeafSpec['kind'] {
  return typeof kind === 'string' && Object.hasOwn(readers, kind);
}

export function readLeafAttrs<K extends LeafSpec['kind']>(kind: K, spec: LeafSpec, at: string): LeafAttrsByKind[K] {
  const reader = readers[kind] as Reader<K>;
  return reader(spec as unknown as Record<string, unknown>, at);
}
