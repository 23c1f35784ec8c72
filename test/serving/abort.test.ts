// abortOnClose: a client that went away before the signal was made (while its upload was decoding)
// is seen as gone, so its images are not computed.
import t from 'tap';
import Fastify from 'fastify';
import { connect } from 'node:net';
import { abortOnClose } from '../../src/serving/abort.js';

t.test('a client gone before the signal is made aborts it at once; one still there does not', async (t) => {
  const app = Fastify();
  const seen: boolean[] = [];
  let done: () => void;
  const handled = new Promise<void>((r) => (done = r));
  app.get('/slow', async (_request, reply) => {
    await new Promise((r) => setTimeout(r, 150)); // "decoding"
    seen.push(abortOnClose(reply).aborted);
    done();
    return { ok: true };
  });
  app.get('/fast', async (_request, reply) => ({ aborted: abortOnClose(reply).aborted }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const { port } = app.server.address() as { port: number };
  const socket = connect(port, '127.0.0.1', () => {
    socket.write(`GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    setTimeout(() => socket.destroy(), 30); // leaves while the handler is still "decoding"
  });
  await handled;
  t.same(seen, [true], 'the signal made after the client left is already aborted');
  const res = await fetch(`http://127.0.0.1:${port}/fast`);
  t.same(await res.json(), { aborted: false }, 'a client that is still there is not');
});
