/**
 * What a client gets when Node's HTTP parser gives up on its connection before any route runs: a
 * request that did not arrive in time (408), headers too large (431), or bytes that are not HTTP
 * (400). Fastify's default answers these with a body of its own shape; ours says the same things in
 * the project's error shape (code, field, what was expected), then closes the connection, because
 * the rest of what the client sends can no longer be read as a request.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import { type ErrorBody, errorBody } from './errors.js';

export function clientErrorBody(err: Error & { code?: string }, clientTimeoutMs: number): ErrorBody {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return errorBody(
      408,
      'REQUEST_TIMEOUT',
      `request: expected the whole request (headers and body) within ${clientTimeoutMs} ms (CLIENT_TIMEOUT_MS); it was still arriving`,
      { field: 'request', limitMs: clientTimeoutMs },
    );
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return errorBody(
      431,
      'HEADERS_TOO_LARGE',
      'headers: expected at most 16 KiB of request headers (Node.js max-http-header-size); received more',
      { field: 'headers' },
    );
  }
  return errorBody(
    400,
    'MALFORMED_REQUEST',
    `request: expected an HTTP/1.1 request; the parser stopped: ${err.code ?? err.message}`,
    {
      field: 'request',
    },
  );
}

/** Fastify's clientErrorHandler: answers in the error shape when the socket can still take it. */
export function clientErrorHandler(clientTimeoutMs: number) {
  return function onClientError(
    this: { log: FastifyBaseLogger },
    err: Error & { code?: string },
    socket: Socket,
  ) {
    // A reset or an already-closed socket has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const body = clientErrorBody(err, clientTimeoutMs);
    this.log.debug({ err, statusCode: body.statusCode }, 'client error before routing');
    // As Node itself does: never write into a response that has already begun on this socket.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const json = JSON.stringify(body);
      socket.write(
        `HTTP/1.1 ${body.statusCode} ${STATUS_CODES[body.statusCode]}\r\n` +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(json)}\r\n` +
          'Connection: close\r\n\r\n' +
          json,
      );
    }
    socket.destroy();
  };
}
