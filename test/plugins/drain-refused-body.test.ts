// drainRefusedBody on its own: what is left of a refused body is read within the time bound, then
// the socket is closed; a body already read to its end leaves nothing to drain and starts no timer.
// That includes app.inject's requests, whose fake socket has no destroy() and whose `complete` is
// never set: a timer left running there threw an uncaught TypeError 10 s after any 413 decided
// once the body had been read (too many images, a pixel bomb).
import t, { type Test } from 'tap';
import { EventEmitter, once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { drainRefusedBody } from '../../src/plugins/body-limits.js';

/** A request whose socket records being closed, with part of a body that has ended or is still arriving. */
function request(ended: boolean) {
  const closed: boolean[] = [];
  const socket = Object.assign(new EventEmitter(), {
    bytesRead: 0,
    destroyed: false,
    destroy: () => closed.push(true),
  });
  const body = Object.assign(new PassThrough(), { socket });
  body.write('rest of the body');
  if (ended) body.end();
  return { req: body as unknown as IncomingMessage, closed };
}

/** Runs the drain, then lets the clock jump past its time bound. */
async function drainPastTheBound(req: IncomingMessage, t: Test) {
  drainRefusedBody(req, 1);
  await sleep(20);
  const now = Date.now;
  Date.now = () => now() + 60_000;
  t.teardown(() => {
    Date.now = now;
  });
  await sleep(150);
}

t.test('a body still arriving is drained until the bound, then its socket is closed', async (t) => {
  const { req, closed } = request(false);
  await drainPastTheBound(req, t);
  t.same(closed, [true]);
});

t.test('a body already read to its end starts no drain (app.inject bodies included)', async (t) => {
  const { req, closed } = request(true);
  req.resume();
  await once(req, 'end');
  await drainPastTheBound(req, t);
  t.same(closed, [], 'nothing closed, no timer left to throw');
});
