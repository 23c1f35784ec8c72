// What a client sees over a real socket when its request never arrives whole, or is not HTTP: an
// answer in the project's error shape, in time, and a closed connection.
import t from 'tap';
import net from 'node:net';
import { buildApp } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const CLIENT_TIMEOUT_MS = 1500;
const app = await buildApp(testConfig({ clientTimeoutMs: CLIENT_TIMEOUT_MS }));
t.teardown(() => app.close());
await app.listen({ host: '127.0.0.1', port: 0 });
const port = (app.server.address() as net.AddressInfo).port;

/** Writes `chunks` (then keeps the socket open and silent); resolves with all it read and when it closed. */
function converse(chunks: string[]): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1', () => {
      for (const c of chunks) socket.write(c);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      text += d;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, closedAfterMs: performance.now() - started }));
    // A server that never cuts the client would hang the test; tap's own timeout is far longer.
    setTimeout(() => socket.destroy(new Error('the server kept a silent client for 15 s')), 15_000).unref();
  });
}

const jsonOf = (text: string) => JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));

t.test('a body that stops arriving is cut within the timeout with a 408 in the error shape', async (t) => {
  const { text, closedAfterMs } = await converse([
    'POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
    '{"spec": {"input": [8, 8, 1], ',
  ]);
  t.match(text, /^HTTP\/1\.1 408 /);
  t.match(text, /connection: close/i);
  t.match(jsonOf(text), {
    statusCode: 408,
    code: 'REQUEST_TIMEOUT',
    field: 'request',
    limitMs: CLIENT_TIMEOUT_MS,
  });
  // The timeout, plus at most the one-second check interval and some scheduling slack.
  t.ok(
    closedAfterMs >= CLIENT_TIMEOUT_MS - 50,
    `closed after ${closedAfterMs.toFixed(0)} ms, not before the timeout`,
  );
  t.ok(closedAfterMs < CLIENT_TIMEOUT_MS + 2500, `closed after ${closedAfterMs.toFixed(0)} ms`);
});

t.test('headers that never finish are cut the same way', async (t) => {
  const { text, closedAfterMs } = await converse(['GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ']);
  t.match(jsonOf(text), { statusCode: 408, code: 'REQUEST_TIMEOUT' });
  t.ok(closedAfterMs < CLIENT_TIMEOUT_MS + 2500, `closed after ${closedAfterMs.toFixed(0)} ms`);
});

t.test(
  'oversized headers are a 431 and bytes that are not HTTP a 400, both in the error shape',
  async (t) => {
    const big = await converse([
      `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]);
    t.match(big.text, /^HTTP\/1\.1 431 /);
    t.match(jsonOf(big.text), { statusCode: 431, code: 'HEADERS_TOO_LARGE', field: 'headers' });
    const garbage = await converse(['\x16\x03\x01 this is a TLS hello, not HTTP\r\n\r\n']);
    t.match(garbage.text, /^HTTP\/1\.1 400 /);
    t.match(jsonOf(garbage.text), { statusCode: 400, code: 'MALFORMED_REQUEST', field: 'request' });
  },
);

t.test('the server keeps serving afterwards', async (t) => {
  const res = await fetch(`http://127.0.0.1:${port}/health/live`);
  t.equal(res.status, 200);
});
