/**
 * The activation functions, written once: their names, the parameters some of them take (with
 * defaults), and whether their output can be negative. The `activation` kind and dense's fused
 * activation both read them from here; every engine keeps one implementation per function in a
 * table typed by `ActivationFn`, so a function missing from an engine is a compile error.
 *
 * Definitions (what every engine computes):
 * - relu max(x, 0); relu6 min(max(x, 0), 6); sigmoid 1/(1+e^−x); tanh; softmax over channels;
 *   linear (identity);
 * - silu x·sigmoid(x) (also called swish);
 * - hard_sigmoid clip(alpha·x + beta, 0, 1), by default alpha 1/6, beta 0.5 = relu6(x+3)/6 as in
 *   PyTorch, Keras 3 and ONNX HardSigmoid's form (Keras 2's hard_sigmoid is alpha 0.2, beta 0.5);
 * - hard_swish x·relu6(x+3)/6 (PyTorch Hardswish, Keras 3 hard_silu, ONNX HardSwish);
 * - gelu x·Φ(x) with the exact normal CDF, or its tanh approximation when `approximate`;
 * - leaky_relu x for x ≥ 0, alpha·x below (default alpha 0.01, PyTorch's);
 * - elu x for x > 0, alpha·(e^x − 1) below (default alpha 1);
 * - clip min(max(x, min), max) (ONNX Clip, PyTorch Hardtanh, Keras ReLU(max_value)); default 0..6.
 */
import { SpecError } from '../errors.js';

export const ACTIVATION_FNS = [
  'relu',
  'relu6',
  'sigmoid',
  'tanh',
  'softmax',
  'linear',
  'silu',
  'hard_sigmoid',
  'hard_swish',
  'gelu',
  'leaky_relu',
  'elu',
  'clip',
] as const;
export type ActivationFn = (typeof ACTIVATION_FNS)[number];

/** Other names for the same functions, accepted when reading and normalised away. */
export const ACTIVATION_ALIASES: Readonly<Record<string, ActivationFn>> = {
  swish: 'silu',
  hard_silu: 'hard_swish',
};

/** An activation with its parameters; functions without parameters carry only their name. */
export type Activation =
  | { function: Exclude<ActivationFn, 'hard_sigmoid' | 'gelu' | 'leaky_relu' | 'elu' | 'clip'> }
  | { function: 'hard_sigmoid'; alpha: number; beta: number }
  | { function: 'gelu'; approximate: boolean }
  | { function: 'leaky_relu'; alpha: number }
  | { function: 'elu'; alpha: number }
  | { function: 'clip'; min: number; max: number };

interface FunctionInfo {
  /** Whether f(x) ≥ 0 for every x, given the parameters. */
  nonNegative: boolean | ((params: Record<string, number>) => boolean);
  /** Numeric parameters with their defaults. */
  numbers?: Record<string, number>;
  /** Boolean parameters with their defaults. */
  flags?: Record<string, boolean>;
  /**
   * What its backward pass reads, as PyTorch's autograd saves it: the output (relu, sigmoid, tanh,
   * softmax), the input (the rest; an in-place variant saves a copy of its input, the same bytes),
   * or nothing (linear).
   */
  backwardReads: 'input' | 'output' | 'nothing';
}

export const ACTIVATIONS: { [F in ActivationFn]: FunctionInfo } = {
  relu: { nonNegative: true, backwardReads: 'output' },
  relu6: { nonNegative: true, backwardReads: 'input' },
  sigmoid: { nonNegative: true, backwardReads: 'output' },
  tanh: { nonNegative: false, backwardReads: 'output' },
  softmax: { nonNegative: true, backwardReads: 'output' },
  linear: { nonNegative: false, backwardReads: 'nothing' },
  silu: { nonNegative: false, backwardReads: 'input' },
  hard_sigmoid: { nonNegative: true, numbers: { alpha: 1 / 6, beta: 0.5 }, backwardReads: 'input' },
  hard_swish: { nonNegative: false, backwardReads: 'input' },
  gelu: { nonNegative: false, flags: { approximate: false }, backwardReads: 'input' },
  leaky_relu: { nonNegative: false, numbers: { alpha: 0.01 }, backwardReads: 'input' },
  elu: { nonNegative: false, numbers: { alpha: 1 }, backwardReads: 'input' },
  clip: { nonNegative: (p) => p.min >= 0, numbers: { min: 0, max: 6 }, backwardReads: 'input' },
};

/** Every name a spec may use: the functions and their aliases. */
export const ACTIVATION_NAMES: readonly string[] = [...ACTIVATION_FNS, ...Object.keys(ACTIVATION_ALIASES)];

export const LINEAR: Activation = { function: 'linear' };

export function activationFnOf(name: unknown): ActivationFn | undefined {
  if (typeof name !== 'string') return undefined;
  if ((ACTIVATION_FNS as readonly string[]).includes(name)) return name as ActivationFn;
  return Object.hasOwn(ACTIVATION_ALIASES, name) ? ACTIVATION_ALIASES[name] : undefined;
}

/**
 * An activation with every parameter filled in: `params` holds the ones given (spec fields, or an
 * importer's config), the rest take their defaults. Parameters a function does not take are refused.
 */
export function makeActivation(
  name: unknown,
  params: Record<string, unknown>,
  at: string,
  field = 'function',
): Activation {
  const fn = activationFnOf(name);
  if (!fn) throw new SpecError(`${at}.${field}`, name, `one of ${ACTIVATION_NAMES.join(', ')}`);
  const info = ACTIVATIONS[fn];
  const out: Record<string, unknown> = { function: fn };
  for (const [key, fallback] of Object.entries(info.numbers ?? {})) {
    const v = params[key];
    if (v === undefined) out[key] = fallback;
    else if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > 1e6)
      throw new SpecError(`${at}.${key}`, v, 'a finite number (at most 1e6 in size)');
    else out[key] = v;
  }
  for (const [key, fallback] of Object.entries(info.flags ?? {})) {
    const v = params[key];
    if (v === undefined) out[key] = fallback;
    else if (typeof v !== 'boolean') throw new SpecError(`${at}.${key}`, v, 'true or false');
    else out[key] = v;
  }
  for (const key of ACTIVATION_PARAMS) {
    if (params[key] !== undefined && !(key in out)) {
      throw new SpecError(
        `${at}.${key}`,
        params[key],
        `no ${key} (${fn} takes ${paramNames(fn) || 'no parameters'})`,
      );
    }
  }
  if (fn === 'clip' && !((out.min as number) < (out.max as number)))
    throw new SpecError(`${at}.max`, out.max, `a maximum above the minimum (${out.min})`);
  return out as Activation;
}

/** Every parameter name any function takes (spec fields beside `function`). */
export const ACTIVATION_PARAMS: readonly string[] = [
  ...new Set(
    Object.values(ACTIVATIONS).flatMap((i) => [
      ...Object.keys(i.numbers ?? {}),
      ...Object.keys(i.flags ?? {}),
    ]),
  ),
];

function paramNames(fn: ActivationFn): string {
  const info = ACTIVATIONS[fn];
  return [...Object.keys(info.numbers ?? {}), ...Object.keys(info.flags ?? {})].join(', ');
}

export function isNonNegative(a: Activation): boolean {
  const rule = ACTIVATIONS[a.function].nonNegative;
  return typeof rule === 'boolean' ? rule : rule(a as unknown as Record<string, number>);
}
