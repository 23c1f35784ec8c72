/**
 * An AbortSignal that fires when the client goes away before its response is written, so queued
 * work for it is dropped instead of computed.
 */
import type { FastifyReply } from 'fastify';

export function abortOnClose(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // Gone already (while its upload was being read or decoded): the 'close' event has passed.
  if (reply.raw.destroyed && !reply.raw.writableFinished) {
    controller.abort();
    return controller.signal;
  }
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
