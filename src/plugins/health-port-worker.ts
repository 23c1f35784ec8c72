/**
 * The health port's thread: a plain HTTP server that answers /health/live and /health/ready from
 * what the main thread last published, so a probe is answered in a millisecond however busy the
 * event loop is with requests. It never answers for a main thread that has stopped: the main thread
 * writes a heartbeat every publish, and past LIVENESS_STALL_MS without one both probes are 503, so a
 * hung process is still restarted.
 */
import { createServer, type ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { defined } from '../invariant.js';
import { currentThreadId } from '../thread-cpu.js';

export interface HealthPortInit {
  host: string;
  port: number;
  stallMs: number;
  /** process.hrtime.bigint() (monotonic, shared by every thread) at the main thread's last turn. */
  heartbeat: SharedArrayBuffer;
}

/** What the main thread publishes: the readiness answer as its own route would give it. */
export interface ReadySnapshot {
  statusCode: number;
  body: Record<string, unknown>;
}

/** `tid`: the health thread's kernel id (Linux), so the main thread can keep its priority. */
export type HealthPortReply = { listening: number; tid?: number } | { failed: string };

const init = workerData as HealthPortInit;
const port = defined(parentPort, 'the parent port (this module runs in a worker thread)');
const heartbeat = new BigInt64Array(init.heartbeat);
let ready: ReadySnapshot = { statusCode: 503, body: { status: 'starting' } };
port.on('message', (snapshot: ReadySnapshot) => {
  ready = snapshot;
});

function send(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}) {
  const json = JSON.stringify(body);
  res.writeHead(statusCode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(json);
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/health/live' && path !== '/health/ready') {
    send(res, 404, {
      statusCode: 404,
      code: 'ROUTE_NOT_FOUND',
      error: 'Not Found',
      message: `${req.method} ${path}: the health port answers only GET /health/live and GET /health/ready`,
      field: 'url',
      received: path,
    });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(
      res,
      405,
      {
        statusCode: 405,
        code: 'METHOD_NOT_ALLOWED',
        error: 'Method Not Allowed',
        message: `${req.method} ${path}: expected GET or HEAD`,
        field: 'method',
        received: req.method,
      },
      { allow: 'GET, HEAD' },
    );
    return;
  }
  const stalledMs = Math.round(Number(process.hrtime.bigint() - Atomics.load(heartbeat, 0)) / 1e6);
  if (stalledMs > init.stallMs) {
    send(res, 503, { status: 'stalled', eventLoopStalledMs: stalledMs }, { 'retry-after': '1' });
    return;
  }
  if (path === '/health/live') send(res, 200, { status: 'live' });
  else send(res, ready.statusCode, ready.body, ready.statusCode === 200 ? {} : { 'retry-after': '1' });
});
// Probes are tiny: a client that does not send one promptly is not a prober.
server.requestTimeout = 5000;
server.headersTimeout = 5000;
server.on('error', (err) => port.postMessage({ failed: err.message } satisfies HealthPortReply));
server.listen(init.port, init.host, () => {
  const address = server.address();
  port.postMessage({
    listening: typeof address === 'object' && address ? address.port : init.port,
    tid: currentThreadId(),
  } satisfies HealthPortReply);
});
