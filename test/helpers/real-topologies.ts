/**
 * The corpus of published third-party model files with independently computed counts
 * (`../shared/real-topologies/`, see its README). Tests read it where it lies and never copy it;
 * REAL_TOPOLOGIES names another place.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RealCase {
  file: string;
  format: string;
  cliArgs: string[];
  classes: Record<string, number>;
  expected: {
    params: number;
    trainableParams: number;
    nonTrainableParams: number;
    macs: number;
    output: number[];
  };
  kerasSummary?: { trainableParams: number; nonTrainableParams: number };
  weightLayers: { name: string; class: string; outputShape: number[]; params: number; macs: number }[];
}

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The corpus folder, or undefined where this machine has none. */
export function realTopologiesDir(): string | undefined {
  const candidates = [
    process.env.REAL_TOPOLOGIES,
    path.resolve(repo, '../shared/real-topologies'),
    '/work/shared/real-topologies',
  ];
  return candidates.find((d): d is string => d !== undefined && existsSync(path.join(d, 'expected.json')));
}

export function readRealCases(dir: string): RealCase[] {
  return (JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { cases: RealCase[] }).cases;
}

/** The `--input H,W,C` a case needs, as [H, W, C]. */
export function cliInput(c: RealCase): [number, number, number] | undefined {
  const i = c.cliArgs.indexOf('--input');
  return i < 0 ? undefined : (c.cliArgs[i + 1].split(',').map(Number) as [number, number, number]);
}
