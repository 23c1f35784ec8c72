/**
 * Replaces Fastify's JSON parser with one that refuses absurdly deep nesting before parsing, so a
 * body like [[[[…]]]] is a 400 and never reaches a recursive validator that could overflow the stack.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import sjson from 'secure-json-parse';
import { AppError } from '../errors.js';

export const MAX_JSON_DEPTH = 128;

/** Bracket depth of a JSON text, ignoring brackets inside strings. Linear and allocation-free. */
export function jsonDepth(text: string, stopAt: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123 /* [ { */) {
      if (++depth > max) max = depth;
      if (max > stopAt) return max;
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
}

/** Fastify's JSON body parser with the depth check; routes that need another body limit re-register it in their scope. */
export function parseJsonBody(
  _req: unknown,
  body: string | Buffer,
  done: (err: Error | null, value?: unknown) => void,
): void {
  {
    const text = body as string;
    if (text.trim() === '') {
      done(
        new AppError(400, 'EMPTY_BODY', 'body: expected a JSON document; received an empty body', {
          field: 'body',
          received: '',
          expected: 'JSON',
        }),
        undefined,
      );
      return;
    }
    const depth = jsonDepth(text, MAX_JSON_DEPTH);
    if (depth > MAX_JSON_DEPTH) {
      done(
        new AppError(
          400,
          'JSON_TOO_DEEP',
          `body: expected JSON nested at most ${MAX_JSON_DEPTH} levels deep; received more than ${MAX_JSON_DEPTH}`,
          { field: 'body', received: `depth > ${MAX_JSON_DEPTH}`, expected: `depth <= ${MAX_JSON_DEPTH}` },
        ),
        undefined,
      );
      return;
    }
    try {
      // secure-json-parse as Fastify's own parser does: __proto__ / constructor.prototype keys are refused.
      done(null, sjson.parse(text, { protoAction: 'error', constructorAction: 'error' }));
    } catch (err) {
      done(
        new AppError(400, 'INVALID_JSON', `body: expected valid JSON; ${(err as Error).message}`, {
          field: 'body',
          expected: 'valid JSON',
        }),
        undefined,
      );
    }
  }
}

export default fp(
  async function jsonDepthPlugin(app: FastifyInstance) {
    app.removeContentTypeParser('application/json');
    // No route reads text bodies: a text/plain upload is a 415, not a schema error.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);
  },
  { name: 'json-depth' },
);
