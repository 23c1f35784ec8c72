/**
 * Prometheus metrics through prom-client, on a registry owned by this app (two apps in one process,
 * as in tests, never share counters). HTTP traffic, per-model batching (queue time and compute time
 * kept apart, as Triton does), rejections by reason, model load/warm-up times, event-loop lag,
 * process metrics and the workers' tfjs tensor counts.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import client from 'prom-client';
import type { BatchObserver } from '../serving/batcher.js';
import { batchMetrics, LATENCY_BUCKETS } from './batch-metrics.js';

export interface Metrics {
  registry: client.Registry;
  batchObserver(model: string): BatchObserver;
  /** The explanation queue's (explain_… metrics). */
  explainObserver(model: string): BatchObserver;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** Lines of a real /metrics answer (the service serving models/, after a few requests), abridged. */
const METRICS_EXAMPLE = `# HELP http_requests_total HTTP requests by route, method and status
# TYPE http_requests_total counter
http_requests_total{route="/classify",method="POST",status="200"} 1
http_requests_total{route="/classify",method="POST",status="415"} 1
http_requests_total{route="/analyze",method="POST",status="200"} 4
http_requests_total{route="/analyze",method="POST",status="400"} 1
# HELP model_inferences_total Images inferred
# TYPE model_inferences_total counter
model_inferences_total{model="fashion-resnet"} 2
# HELP model_queue_depth Images waiting in the batching queue
# TYPE model_queue_depth gauge
model_queue_depth{model="fashion-resnet"} 0
# HELP model_ready 1 when the model is loaded and warmed up
# TYPE model_ready gauge
model_ready{model="fashion-inception",state="ready"} 1
model_ready{model="fashion-resnet",state="ready"} 1
`;

/**
 * How often the event-loop lag is sampled. prom-client's 10 ms woke an idle event loop 100 times a
 * second: 11 ms of CPU a second on these VMs, and as many preemptions of the inference threads
 * sharing the cores. At 50 ms: 2.7 ms a second, with 1,200 samples a minute behind the percentiles;
 * a stall still delays the sample it overlaps, so it is still seen.
 */
const EVENT_LOOP_SAMPLE_MS = 50;

export default fp(
  async function metrics(app: FastifyInstance) {
    const registry = new client.Registry();
    client.collectDefaultMetrics({
      register: registry,
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
    const httpRequests = new client.Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    });
    const httpDuration = new client.Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    });
    const inferenceObserver = batchMetrics(registry, 'model', {
      counter: 'inferences',
      help: 'Images inferred',
      queue: 'batching queue',
    });
    // Explanations have a queue of their own (src/serving/explainer.ts), so metrics of their own.
    const explainObserver = batchMetrics(registry, 'explain', {
      counter: 'images',
      help: 'Images explained',
      queue: 'explanation queue',
    });
    new client.Gauge({
      name: 'model_load_seconds',
      help: 'Time to read, check and load each model',
      labelNames: ['model'],
      registers: [registry],
      collect() {
        if (!app.hasDecorator('models')) return;
        for (const m of app.models.models.values())
          if (m.loadMs !== undefined) this.set({ model: m.name }, m.loadMs / 1000);
      },
    });
    new client.Gauge({
      name: 'model_warmup_seconds',
      help: 'Time to warm each model up',
      labelNames: ['model'],
      registers: [registry],
      collect() {
        if (!app.hasDecorator('models')) return;
        for (const m of app.models.models.values())
          if (m.warmupMs !== undefined) this.set({ model: m.name }, m.warmupMs / 1000);
      },
    });
    new client.Gauge({
      name: 'model_ready',
      help: '1 when the model is loaded and warmed up',
      labelNames: ['model', 'state'],
      registers: [registry],
      collect() {
        if (!app.hasDecorator('models')) return;
        this.reset();
        for (const m of app.models.models.values())
          this.set({ model: m.name, state: m.state }, m.state === 'ready' ? 1 : 0);
      },
    });
    const tensors = new client.Gauge({
      name: 'tfjs_tensors',
      help: 'Live tfjs tensors per inference worker',
      labelNames: ['worker'],
      registers: [registry],
    });
    const tensorBytes = new client.Gauge({
      name: 'tfjs_tensor_bytes',
      help: 'Bytes held by live tfjs tensors per inference worker',
      labelNames: ['worker'],
      registers: [registry],
    });

    app.decorate('metrics', {
      registry,
      batchObserver: inferenceObserver,
      explainObserver,
    });

    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions?.url ?? 'unmatched';
      httpRequests.inc({ route, method: request.method, status: String(reply.statusCode) });
      httpDuration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
    });

    app.get(
      '/metrics',
      {
        config: { probe: true },
        schema: {
          tags: ['ops'],
          summary: 'Prometheus metrics',
          description:
            "HTTP requests and latency by route; per model: images inferred, batch sizes, queue and compute time, queue depth, refusals by reason, load and warm-up time, readiness; the workers' tfjs tensors; event-loop lag and process metrics.",
          produces: ['text/plain'],
          response: {
            200: {
              description: 'Prometheus text exposition format (version 0.0.4)',
              type: 'string',
              'x-examples': { abridged: { summary: 'Some of the lines (abridged)', value: METRICS_EXAMPLE } },
            },
          },
        },
      },
      async (_request, reply) => {
        if (app.hasDecorator('pool')) {
          const memory = await app.pool.memory().catch(() => []);
          memory.forEach((m, i) => {
            tensors.set({ worker: String(i) }, m.numTensors);
            tensorBytes.set({ worker: String(i) }, m.numBytes);
          });
        }
        reply.type(registry.contentType);
        return registry.metrics();
      },
    );
  },
  { name: 'metrics' },
);
