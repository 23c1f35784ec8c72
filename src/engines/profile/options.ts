/** What a profile run is asked for. */
export interface ProfileOptions {
  /** Measured runs, after one warm-up run that is not counted. */
  runs: number;
  batch: number;
  /** ONNX Runtime's intra-op threads (the serving engine's count). */
  onnxThreads: number;
  /**
   * An empty private folder for ONNX Runtime's trace, made by the caller, which removes it too when
   * it stops the profile's thread (a stopped thread cannot clean up); without it the profiler makes
   * its own. The profiler removes the folder when it is done either way.
   */
  traceDir?: string;
}

/** The most runs one profile may ask for (they run back to back on a core the service shares). */
export const MAX_PROFILE_RUNS = 100;

/** Measured runs when a request or the command line does not say. */
export const DEFAULT_PROFILE_RUNS = 20;
