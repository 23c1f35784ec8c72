/**
 * Time per layer on the ONNX Runtime engine, from ONNX Runtime's session profiling: a session made
 * like the serving one (graph optimisation 'all', the same thread count) with profiling on writes a
 * Chrome-trace JSON of every node's kernel time per run. The file goes to a private temporary
 * folder, read once the session ends profiling, and the folder is removed whatever happens (by the
 * caller that made it, too, when the profile's thread is stopped before it can: options.traceDir).
 *
 * ONNX Runtime renames nodes it fuses or re-lays out: a Conv fused with the Relu after it takes the
 * Relu's name, NCHWc convs get `_nchwc`, and it adds ReorderInput/ReorderOutput nodes. A name is
 * mapped back through the emitter's node → layer table after dropping those suffixes; what still
 * matches nothing (inserted nodes, the input's transpose) is unattributed, listed by name.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { UNATTRIBUTED, type LayerTimings } from '../../analysis/profile.js';
import { buildAttributedOnnxGraph } from '../../interop/onnx/emit.js';
import { encodeModel } from '../../interop/onnx/model.js';
import type { BoundWeight, Graph } from '../../spec/types.js';
import { randomInput } from '../../weights/random.js';
import type { ProfileOptions } from './options.js';
import { makeTraceDir } from './trace-dir.js';

/** One event of ONNX Runtime's profile (Chrome trace format); times in microseconds. */
interface TraceEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
}

/** Suffixes ONNX Runtime's optimisers give the nodes they rewrite. */
const ORT_SUFFIXES = [/_nchwc$/, /_bn$/, /\/[A-Za-z]+Fusion\/$/];

/** The spec layer an ONNX Runtime node name stands for, or undefined. */
export function layerOfOrtNode(node: string, layerOf: ReadonlyMap<string, string>): string | undefined {
  let name = node;
  for (;;) {
    const layer = layerOf.get(name);
    if (layer !== undefined) return layer;
    const suffix = ORT_SUFFIXES.find((s) => s.test(name));
    if (!suffix) return undefined;
    name = name.replace(suffix, '');
  }
}

/** Node kernel times per model run, from the trace; the first run (warm-up) is left out. */
export function timingsFromTrace(
  events: TraceEvent[],
  layerOf: ReadonlyMap<string, string>,
): { runs: Record<string, number>[]; runMs: number[]; unattributedNodes: string[] } {
  const runs = events
    .filter((e) => e.cat === 'Session' && e.name === 'model_run')
    .sort((a, b) => a.ts - b.ts)
    .slice(1);
  const perRun = runs.map(() => new Map<string, number>());
  const unattributed = new Set<string>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const at = runs.findIndex((r) => e.ts >= r.ts && e.ts <= r.ts + r.dur);
    if (at < 0) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const layer = layerOfOrtNode(node, layerOf) ?? UNATTRIBUTED;
    if (layer === UNATTRIBUTED) unattributed.add(node);
    perRun[at].set(layer, (perRun[at].get(layer) ?? 0) + e.dur / 1000);
  }
  return {
    runs: perRun.map((m) => Object.fromEntries(m)),
    runMs: runs.map((r) => r.dur / 1000),
    unattributedNodes: [...unattributed],
  };
}

export async function profileOnnx(
  graph: Graph,
  bound: BoundWeight[],
  options: ProfileOptions,
): Promise<LayerTimings> {
  const { model, layerOf } = buildAttributedOnnxGraph(graph, bound, { logits: true });
  const dir = options.traceDir ?? (await makeTraceDir());
  try {
    const session = await ort.InferenceSession.create(encodeModel(model), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.onnxThreads,
      interOpNumThreads: 1,
      extra: { session: { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } },
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'profile'),
    });
    try {
      const input = randomInput([options.batch, ...graph.input], 1);
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
      for (let i = 0; i <= options.runs; i++) await session.run(feeds);
      session.endProfiling();
    } finally {
      await session.release();
    }
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`ONNX Runtime wrote ${files.length} profile files, expected 1`);
    const events = JSON.parse(await readFile(path.join(dir, files[0]), 'utf8')) as TraceEvent[];
    const timed = timingsFromTrace(events, layerOf);
    if (timed.runs.length !== options.runs)
      throw new Error(
        `ONNX Runtime's profile holds ${timed.runs.length + 1} runs, expected ${options.runs + 1}`,
      );
    return {
      engine: 'onnxruntime',
      method: "onnxruntime session profiling: each node's kernel time (graph optimisation 'all')",
      batch: options.batch,
      ...timed,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
