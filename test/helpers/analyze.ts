import { ZOO } from '../../models/index.js';
import { analyzeGraph, type AnalysisReport } from '../../src/analysis/analyze.js';
import { normalizeSpec } from '../../src/spec/normalize.js';
import type { ZooOptions } from '../../models/registry-types.js';

export function analyzeZoo(name: string, options: ZooOptions = {}): AnalysisReport {
  const entry = ZOO.get(name);
  if (!entry) throw new Error(`no zoo entry ${name}`);
  return analyzeGraph(normalizeSpec(entry.build(options)));
}
