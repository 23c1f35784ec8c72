/**
 * The metrics of one kind of batched work (plain inference, explanations), named `<prefix>_…` and
 * labelled by model: images done, batch sizes, queue and compute time kept apart (as Triton does),
 * queue depth and refusals by reason.
 */
import client from 'prom-client';
import type { BatchObserver } from '../serving/batcher.js';

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** `what`: the counter's name after the prefix, its help text, and the queue's name in help texts. */
export function batchMetrics(
  registry: client.Registry,
  prefix: string,
  what: { counter: string; help: string; queue: string },
): (model: string) => BatchObserver {
  const labelNames = ['model'];
  const registers = [registry];
  const done = new client.Counter({
    name: `${prefix}_${what.counter}_total`,
    help: what.help,
    labelNames,
    registers,
  });
  const batchSize = new client.Histogram({
    name: `${prefix}_batch_size`,
    help: 'Images per executed batch',
    labelNames,
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers,
  });
  const queueTime = new client.Histogram({
    name: `${prefix}_queue_seconds`,
    help: `Time an image waited in the ${what.queue}`,
    labelNames,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const computeTime = new client.Histogram({
    name: `${prefix}_compute_seconds`,
    help: 'Time to compute one batch',
    labelNames,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const queueDepth = new client.Gauge({
    name: `${prefix}_queue_depth`,
    help: `Images waiting in the ${what.queue}`,
    labelNames,
    registers,
  });
  const rejected = new client.Counter({
    name: `${prefix}_rejected_total`,
    help: 'Requests refused or abandoned, by reason',
    labelNames: ['model', 'reason'],
    registers,
  });
  return (model) => ({
    batch(size, queueMs, computeMs) {
      done.inc({ model }, size);
      batchSize.observe({ model }, size);
      for (const q of queueMs) queueTime.observe({ model }, q / 1000);
      computeTime.observe({ model }, computeMs / 1000);
    },
    rejected: (reason) => rejected.inc({ model, reason }),
    depth: (images) => queueDepth.set({ model }, images),
  });
}
