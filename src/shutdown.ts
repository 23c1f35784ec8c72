import type { Config } from './config.js';

/** What closing takes past the drain itself: the server, its sockets and the inference workers. */
export const CLOSE_MARGIN_MS = 5_000;

/**
 * When a drain has overrun and the process exits 1 on its own, in ms after the signal: the
 * SHUTDOWN_DELAY_MS pause, the DRAIN_TIMEOUT_MS drain, and the closing margin. Every grace period
 * an orchestrator gives the process (terminationGracePeriodSeconds, stop_grace_period) must cover it.
 */
export function hardDeadlineMs(config: Pick<Config, 'shutdownDelayMs' | 'drainTimeoutMs'>): number {
  return config.shutdownDelayMs + config.drainTimeoutMs + CLOSE_MARGIN_MS;
}
