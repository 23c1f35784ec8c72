/**
 * convnet-serve profile <name|spec.json|model.json|model.onnx> [--engine tfjs|onnxruntime|both]
 *   [--runs N] [--batch N] [--input H,W,C] [--weights FILE] [--threads N] [--json]
 *
 * Measured time per layer, in this process, on one engine or both. Without --weights the network
 * runs with seeded random weights: a dense float network takes the same time whatever its values,
 * so a built-in architecture or a spec can be profiled without its trained weights.
 */
import { parseArgs } from 'node:util';
import { analyzeGraph } from '../analysis/analyze.js';
import { profileReport, type ProfileReport } from '../analysis/profile.js';
import { formatProfile } from '../analysis/profile-table.js';
import { DEFAULT_PROFILE_RUNS, MAX_PROFILE_RUNS, PROFILERS } from '../engines/profile/index.js';
import type { EngineKind } from '../engines/types.js';
import { AppError } from '../errors.js';
import { loadConfig } from '../config.js';
import { graphFor } from '../services/analysis.js';
import { inferShapes } from '../spec/shapes.js';
import { randomWeights } from '../weights/random.js';
import { positive, targetOf } from './target.js';

const ENGINE_CHOICES: Record<string, EngineKind[]> = {
  tfjs: ['tfjs'],
  onnxruntime: ['onnxruntime'],
  both: ['onnxruntime', 'tfjs'],
};

export async function profileCommand(args: string[], usage: string): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      engine: { type: 'string' },
      runs: { type: 'string' },
      batch: { type: 'string' },
      input: { type: 'string' },
      weights: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1)
    throw new AppError(400, 'BAD_ARGUMENT', `profile: expected one model name or file\n${usage}`);
  const engines = ENGINE_CHOICES[values.engine ?? 'both'];
  if (!engines)
    throw new AppError(
      400,
      'BAD_ARGUMENT',
      `--engine: expected tfjs, onnxruntime or both; received ${JSON.stringify(values.engine)}`,
    );
  const runs = positive(values.runs, '--runs') ?? DEFAULT_PROFILE_RUNS;
  if (runs > MAX_PROFILE_RUNS)
    throw new AppError(400, 'BAD_ARGUMENT', `--runs: expected at most ${MAX_PROFILE_RUNS}; received ${runs}`);
  const batch = positive(values.batch, '--batch') ?? 1;
  // The service's settings (ONNX_THREADS, TFJS_BACKEND, TFJS_WASM_THREADS), so figures match serving.
  const config = loadConfig();
  const onnxThreads = positive(values.threads, '--threads') ?? config.onnxThreads;
  const graph = graphFor(targetOf(positionals[0], values));
  const shaped = inferShapes(graph);
  let bound = randomWeights(shaped, 1);
  if (values.weights) {
    const [{ readModelWeights }, { bindWeights }] = await Promise.all([
      import('../interop/model-files.js'),
      import('../weights/bind.js'),
    ]);
    bound = bindWeights(shaped, (await readModelWeights(values.weights)).tensors).bound;
  }
  if (engines.includes('tfjs')) {
    const { initBackend } = await import('../engines/tfjs/backend.js');
    await initBackend(config.tfjsBackend, config.wasmThreads);
  }
  const layers = analyzeGraph(graph).layers;
  const reports: ProfileReport[] = [];
  for (const engine of engines) {
    const timings = await PROFILERS[engine](graph, bound, { runs, batch, onnxThreads });
    reports.push(profileReport(graph, layers, timings));
  }
  const weights = values.weights ? `weights ${values.weights}` : 'seeded random weights';
  process.stdout.write(
    values.json
      ? `${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`
      : `${reports.map((r) => `${formatProfile(r)}\n(${weights})\n`).join('\n')}`,
  );
}
