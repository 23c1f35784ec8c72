/** What a profile run is asked for. */
export interface ProfileOptions {
  /** Measured runs, after one warm-up run that is not counted. */
  runs: number;
  batch: number;
  /** ONNX Runtime's intra-op threads (the serving engine's count). */
  onnxThreads: number;
}

/** The most runs one profile may ask for (they run back to back on a core the service shares). */
export const MAX_PROFILE_RUNS = 100;

/** Measured runs when a request or the command line does not say. */
export const DEFAULT_PROFILE_RUNS = 20;
