/**
 * HEALTH_PORT: health probes answered by a thread of their own. On the main port a probe waits its
 * turn behind whatever the event loop is doing, and a flood of cheap requests (dozens of refused
 * uploads at once) delays it by tens of milliseconds. Here the main thread publishes its readiness
 * answer and a heartbeat every PUBLISH_MS; the health thread answers from them at once, and answers
 * 503 when the heartbeat is older than LIVENESS_STALL_MS, so a stuck process still fails its probes.
 * The main port keeps its own /health routes.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { spawnWorker } from '../spawn-worker.js';
import type { HealthPortReply, ReadySnapshot } from './health-port-worker.js';

/** How often the main thread publishes: the most a readiness change (draining, a model failing) lags. */
const PUBLISH_MS = 100;

export interface HealthPortOptions {
  host: string;
  port: number;
  stallMs: number;
  /** The readiness answer, as GET /health/ready on the main port gives it. */
  snapshot: () => Promise<ReadySnapshot>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The port the health thread listens on, when HEALTH_PORT is set. */
    healthPort?: number;
    /** The health thread's kernel thread id (Linux), which keeps the event loop's priority. */
    healthThreadId?: number;
  }
}

export default fp(
  async function healthPort(app: FastifyInstance, options: HealthPortOptions) {
    const heartbeat = new SharedArrayBuffer(8);
    const beat = new BigInt64Array(heartbeat);
    Atomics.store(beat, 0, process.hrtime.bigint());
    const worker = spawnWorker(import.meta.url, 'health-port-worker', {
      host: options.host,
      port: options.port,
      stallMs: options.stallMs,
      heartbeat,
    });
    const reply = await new Promise<HealthPortReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    let closing = false;
    // A health thread that dies leaves the probes unanswered and the pod restarted: say why.
    worker.on('error', (err) => app.log.error({ err }, 'health port: the health thread failed'));
    worker.on('exit', (code) => {
      if (!closing)
        app.log.error({ code }, 'health port: the health thread exited; probes are no longer answered');
    });
    if ('failed' in reply) {
      closing = true;
      await worker.terminate();
      throw new Error(`HEALTH_PORT ${options.port}: the health port could not listen: ${reply.failed}`);
    }
    app.decorate('healthPort', reply.listening);
    app.decorate('healthThreadId', reply.tid);
    let last = '';
    let publishing = false;
    const publish = async () => {
      Atomics.store(beat, 0, process.hrtime.bigint());
      if (publishing) return;
      publishing = true;
      try {
        const snapshot = await options.snapshot();
        const json = JSON.stringify(snapshot);
        if (json !== last) {
          last = json;
          worker.postMessage(snapshot);
        }
      } catch (err) {
        app.log.error({ err }, 'health port: readiness could not be computed');
      } finally {
        publishing = false;
      }
    };
    await publish();
    const timer = setInterval(() => void publish(), PUBLISH_MS);
    timer.unref();
    worker.unref();
    app.log.info({ port: reply.listening }, 'health probes answered on their own port');
    app.addHook('onClose', async () => {
      closing = true;
      clearInterval(timer);
      await worker.terminate();
    });
  },
  { name: 'health-port' },
);
