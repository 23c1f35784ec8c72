/**
 * One error policy: every 4xx is `{statusCode, code, error, message, field?, received?, expected?}`
 * with a stable code; a 5xx says only that something failed on our side, and is logged in full.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { bodyLimitFor, drainRefusedBody } from './body-limits.js';
import { STATUS_CODES } from 'node:http';
import { AppError, describeValue } from '../errors.js';

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  [detail: string]: unknown;
}

export function errorBody(
  statusCode: number,
  code: string,
  message: string,
  detail: Record<string, unknown> = {},
): ErrorBody {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message, ...detail };
}

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
  data?: unknown;
}

/** Turns the first schema violation into a message naming the field, the value and what was expected. */
function validationBody(err: FastifyError): ErrorBody {
  const issue = (err.validation as unknown as AjvIssue[])[0];
  const context = err.validationContext ?? 'body';
  let field = `${context}${issue.instancePath.replace(/\//g, '.')}`;
  let expected = issue.message ?? 'a valid value';
  let received: unknown = issue.data;
  switch (issue.keyword) {
    case 'enum':
      expected = `one of ${(issue.params.allowedValues as unknown[]).join(', ')}`;
      break;
    case 'additionalProperties':
      field = `${field}.${String(issue.params.additionalProperty)}`;
      expected = 'no such property (check the spelling against the documented fields)';
      received = issue.params.additionalProperty;
      break;
    case 'required':
      field = `${field}.${String(issue.params.missingProperty)}`;
      expected = 'this required property';
      received = undefined;
      break;
    case 'type':
      expected = `${/^[aeiou]/.test(String(issue.params.type)) ? 'an' : 'a'} ${String(issue.params.type).replace(/,/g, ' or ')}`;
      break;
    default:
      // AJV's messages read "must be …": as an expectation, drop the "must be".
      expected = expected.replace(/^must (be )?/, '');
  }
  // A comparison side: say what each side may be.
  if (/^body\.compare\.\d+$/.test(field) && issue.keyword === 'type')
    expected = 'a model name, {"model": name}, {"spec": …} or a Keras/tfjs model JSON';
  const unknownKind = issue.keyword === 'enum' && field.endsWith('.kind');
  return errorBody(
    400,
    unknownKind ? 'UNKNOWN_LAYER_KIND' : 'VALIDATION_ERROR',
    `${field}: expected ${expected}; received ${describeValue(received)}`,
    {
      field,
      received: typeof received === 'object' && received !== null ? describeValue(received, 200) : received,
      expected,
    },
  );
}

/** Fastify's own client errors, renamed into our stable codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_BODY',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_CONTENT_LENGTH',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

export function toErrorBody(
  err: FastifyError | AppError | Error,
  bodyLimit?: number,
  contentType?: string,
): ErrorBody {
  if (err instanceof AppError) return errorBody(err.statusCode, err.code, err.message, err.detail);
  const fe = err as FastifyError;
  if (fe.validation) return validationBody(fe);
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = FASTIFY_CODES[fe.code] ?? fe.code ?? 'BAD_REQUEST';
    if (code === 'UNSUPPORTED_MEDIA_TYPE') {
      return errorBody(
        415,
        code,
        `content-type: expected one this route accepts (application/json; /classify also multipart/form-data and image/*); received ${JSON.stringify(contentType ?? null)}`,
        { field: 'content-type', received: contentType ?? null },
      );
    }
    if (code === 'BODY_TOO_LARGE' && bodyLimit !== undefined) {
      return errorBody(413, code, `body: expected at most ${bodyLimit} bytes; received more`, {
        field: 'body',
        expected: `at most ${bodyLimit} bytes`,
        limitBytes: bodyLimit,
      });
    }
    return errorBody(status, code, fe.message);
  }
  return errorBody(
    500,
    'INTERNAL_ERROR',
    'The server failed to handle this request; the error has been logged.',
  );
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The methods some route accepts on this path (empty: no route has the path). */
    allowedMethods(path: string): string[];
  }
}

/**
 * A refused body is read to its end (within bounds) so the client hears the 413 instead of a
 * reset; the connection then stays usable. An Expect: 100-continue refusal closes it (no body follows).
 */
export function keepRefusedBodyReadable(
  request: FastifyRequest,
  reply: FastifyReply,
  body: ErrorBody,
  limit: number | undefined,
): void {
  if (body.statusCode !== 413 || request.headers.expect !== undefined) return;
  reply.removeHeader('connection');
  drainRefusedBody(request.raw, typeof body.limitBytes === 'number' ? body.limitBytes : (limit ?? 0));
}

/** 405 with Allow for a wrong method on a known path, else 404. */
export function notFoundBody(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply): ErrorBody {
  const path = request.url.split('?')[0];
  const allowed = app.allowedMethods(path);
  if (allowed.length && !allowed.includes(request.method)) {
    reply.header('allow', allowed.join(', '));
    return errorBody(
      405,
      'METHOD_NOT_ALLOWED',
      `${request.method} ${path}: expected ${allowed.join(' or ')}; received ${request.method}`,
      { field: 'method', received: request.method, expected: allowed.join(', ') },
    );
  }
  return errorBody(404, 'ROUTE_NOT_FOUND', `${request.method} ${path}: no such route`, {
    field: 'url',
    received: path,
  });
}

export default fp(
  async function errorPolicy(app: FastifyInstance) {
    app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const limit = bodyLimitFor(request) ?? app.initialConfig.bodyLimit;
      const body = toErrorBody(err, limit, request.headers['content-type']);
      keepRefusedBodyReadable(request, reply, body, limit);
      if (body.code === 'INTERNAL_ERROR') request.log.error({ err }, 'request failed');
      else if (body.statusCode >= 500)
        request.log.warn({ code: body.code, statusCode: body.statusCode }, body.message); // overload, draining: expected
      else request.log.info({ code: body.code, statusCode: body.statusCode }, body.message);
      if (typeof body.retryAfter === 'number') reply.header('retry-after', String(body.retryAfter));
      reply.code(body.statusCode).send(body);
    });
    // Every route's methods by path pattern, so a wrong method on a known path is a 405 with Allow.
    const routes: { pattern: RegExp; methods: Set<string> }[] = [];
    app.addHook('onRoute', (route) => {
      const source = `^${route.url
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/:[^/]+/g, '[^/]+')
        .replace(/\*/g, '.*')}/?$`;
      let entry = routes.find((r) => r.pattern.source === source);
      if (!entry) {
        entry = { pattern: new RegExp(source), methods: new Set() };
        routes.push(entry);
      }
      for (const m of [route.method].flat()) entry.methods.add(m);
    });
    app.decorate('allowedMethods', (path: string) =>
      [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => [...r.methods]))].sort(),
    );
    app.setNotFoundHandler((request, reply) => {
      const body = notFoundBody(app, request, reply);
      reply.code(body.statusCode).send(body);
    });
  },
  { name: 'error-policy' },
);
