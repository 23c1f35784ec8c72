/**
 * Measured time per layer, one profiler per engine (typed by EngineKind, so a new engine must bring
 * one): a graph with bound weights in, per-run milliseconds per spec layer out.
 */
import type { LayerTimings } from '../../analysis/profile.js';
import type { BoundWeight, Graph } from '../../spec/types.js';
import type { EngineKind } from '../types.js';
import { profileOnnx } from './onnxruntime.js';
import type { ProfileOptions } from './options.js';
import { profileTfjs } from './tfjs.js';

export { DEFAULT_PROFILE_RUNS, MAX_PROFILE_RUNS, type ProfileOptions } from './options.js';

export const PROFILERS: {
  [E in EngineKind]: (graph: Graph, bound: BoundWeight[], options: ProfileOptions) => Promise<LayerTimings>;
} = {
  tfjs: async (graph, bound, options) => profileTfjs(graph, bound, options),
  onnxruntime: profileOnnx,
};
