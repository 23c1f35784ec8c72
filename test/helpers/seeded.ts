/**
 * Seeded weights and inputs that scripts/reference/seeded.py draws identically (mulberry32, the
 * same order and bounds, float64 arithmetic rounded once to float32), so whole-model parity
 * fixtures commit only keys, shapes and PyTorch's outputs, not the weights.
 */
import { readFileSync } from 'node:fs';
import type { RawTensor } from '../../src/weights/types.js';
import { fixture, readFixtureTensors } from './engine.js';
import { rng } from '../../bench/lib/random.js';

export interface SeededFixture {
  model: string;
  weightSeed: number;
  inputSeed: number;
  inputShape: number[];
  outputShape: number[];
  keys: [string, number[]][];
}

/** A stream of U(lo, hi) float32 values (Float32Array rounds the float64 value to nearest, as numpy's astype does). */
class Stream {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }

  uniform(count: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }
}

function bounds(key: string, shape: number[]): [number, number] {
  if (shape.length >= 2) {
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const b = Math.sqrt(6 / fanIn);
    return [-b, b];
  }
  if (key.endsWith('running_var') || (key.endsWith('.weight') && shape.length === 1)) return [0.5, 1.5];
  return [-0.1, 0.1];
}

/** The state_dict the fixture was made with, by torchvision key. */
export function seededStateDict(f: SeededFixture): Map<string, RawTensor> {
  const stream = new Stream(f.weightSeed);
  const out = new Map<string, RawTensor>();
  for (const [key, shape] of f.keys) {
    const [lo, hi] = bounds(key, shape);
    out.set(key, {
      shape,
      data: stream.uniform(
        shape.reduce((a, b) => a * b, 1),
        lo,
        hi,
      ),
    });
  }
  return out;
}

export function seededInput(f: SeededFixture): RawTensor {
  return {
    shape: f.inputShape,
    data: new Stream(f.inputSeed).uniform(
      f.inputShape.reduce((a, b) => a * b, 1),
      -1,
      1,
    ),
  };
}

export function readSeededFixture(model: string): { fixture: SeededFixture; output: RawTensor } {
  const doc = JSON.parse(readFileSync(fixture(`torch/seeded/${model}.json`), 'utf8')) as SeededFixture;
  return {
    fixture: doc,
    output: readFixtureTensors(`torch/seeded/${model}.output.safetensors`).get('output')!,
  };
}
