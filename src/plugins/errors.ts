/**
 * One error policy: every 4xx is `{statusCode, code, error, message, field?, received?, expected?}`
 * with a stable code; a 5xx says only that something failed on our side, and is logged in full.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';
import { AppError, describeValue } from '../errors.js';

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
  [detail: string]: unknown;
}

export function errorBody(statusCode: number, code: string, message: string, detail: Record<string, unknown> = {}): ErrorBody {
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
  }
  const unknownKind = issue.keyword === 'enum' && field.endsWith('.kind');
  return errorBody(400, unknownKind ? 'UNKNOWN_LAYER_KIND' : 'VALIDATION_ERROR', `${field}: expected ${expected}; received ${describeValue(received)}`, {
    field,
    received: typeof received === 'object' && received !== null ? describeValue(received, 200) : received,
    expected,
  });
}

/** Fastify's own client errors, renamed into our stable codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'EMPTY_BODY',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_CONTENT_LENGTH',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

export function toErrorBody(err: FastifyError | AppError | Error, bodyLimit?: number, contentType?: string): ErrorBody {
  if (err instanceof AppError) return errorBody(err.statusCode, err.code, err.message, err.detail);
  const fe = err as FastifyError;
  if (fe.validation) return validationBody(fe);
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = FASTIFY_CODES[fe.code] ?? fe.code ?? 'BAD_REQUEST';
    if (code === 'UNSUPPORTED_MEDIA_TYPE') {
      return errorBody(415, code, `content-type: expected one this route accepts (application/json; /classify also multipart/form-data and image/*); received ${JSON.stringify(contentType ?? null)}`, { field: 'content-type', received: contentType ?? null });
    }
    if (code === 'BODY_TOO_LARGE' && bodyLimit !== undefined) {
      return errorBody(413, code, `body: expected at most ${bodyLimit} bytes; received more`, { field: 'body', expected: `at most ${bodyLimit} bytes`, limitBytes: bodyLimit });
    }
    return errorBody(status, code, fe.message);
  }
  return errorBody(500, 'INTERNAL_ERROR', 'The server failed to handle this request; the error has been logged.');
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Body limits by content type, for routes whose parsers differ (see bodyLimitFor). */
    bodyLimits?: Record<string, number>;
  }
}

/**
 * The body limit that applied to a request: the route's, or for routes whose limit depends on the
 * content type (POST /analyze: JSON or a model file), the one its `config.bodyLimits` names.
 */
function bodyLimitFor(request: FastifyRequest): number | undefined {
  const byType = request.routeOptions?.config?.bodyLimits;
  const type = request.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (byType && type && byType[type] !== undefined) return byType[type];
  return request.routeOptions?.bodyLimit;
}

export default fp(async function errorPolicy(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const limit = bodyLimitFor(request) ?? app.initialConfig.bodyLimit;
    const body = toErrorBody(err, limit, request.headers['content-type']);
    if (body.code === 'INTERNAL_ERROR') request.log.error({ err }, 'request failed');
    else if (body.statusCode >= 500) request.log.warn({ code: body.code, statusCode: body.statusCode }, body.message); // overload, draining: expected
    else request.log.info({ code: body.code, statusCode: body.statusCode }, body.message);
    if (typeof body.retryAfter === 'number') reply.header('retry-after', String(body.retryAfter));
    reply.code(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, 'ROUTE_NOT_FOUND', `${request.method} ${request.url.split('?')[0]}: no such route`, { field: 'url', received: request.url.split('?')[0] }));
  });
}, { name: 'error-policy' });
