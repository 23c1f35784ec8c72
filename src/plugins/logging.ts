/**
 * How the service logs, chosen when the Fastify instance is made (so not a plugin): LOG_FORMAT json
 * writes one pino JSON object per line for a log collector, pretty writes pino-pretty's readable
 * lines for a person at a terminal. Both write synchronously, so the lines logged just before
 * `process.exit` (the end of a drain) are on stdout when the process ends.
 *
 * Routes marked `config: { probe: true }` (health checks, /metrics) log their request lines at
 * debug: a probe every few seconds would otherwise bury the requests that matter at info.
 */
import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import { pino } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Polled by orchestrators and scrapers: request lines at debug instead of info. */
    probe?: boolean;
  }
}

export function loggerOptions(
  config: Pick<Config, 'logLevel' | 'logFormat'>,
): FastifyServerOptions['logger'] {
  if (config.logLevel === 'silent') return { level: 'silent' };
  // Synchronous streams in this thread. pino's default stdout stream writes from libuv's thread
  // pool: at process.exit a write still in flight is lost, or lands after the flushed ones. A pino
  // transport (a worker thread) is cut off by process.exit as well.
  const stream =
    config.logFormat === 'json'
      ? pino.destination({ dest: 1, sync: true })
      : // Colours follow the terminal (and NO_COLOR, FORCE_COLOR).
        pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return { level: config.logLevel, stream };
}

const isProbe = (request: FastifyRequest) => request.routeOptions.config?.probe === true;

/** Fastify's request lines, at debug for probes; errors keep their level. */
export class ProbeLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (!isProbe(request)) super.incomingRequest(request, reply);
    else if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error || !isProbe(request)) super.requestCompleted(error, request, reply);
    else if (!this.isLogDisabled(request))
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
