// The service's own API, and its one error shape {statusCode, code, error, message, field?,
// received?, expected?} turned into something a person can read.

import { h } from './dom.js';

export class ApiError extends Error {
  constructor(body) {
    super(body.message);
    this.name = 'ApiError';
    this.body = body;
  }
}

const KEY = 'convnet-serve.apiKey';

/** The API key typed into the header box, if any (sessionStorage: this tab only). */
export function apiKey() {
  try {
    return sessionStorage.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
  } catch {
    // storage disabled: the key simply is not kept
  }
}

/** GET or POST (JSON or FormData) against this origin; rejects with an ApiError on any failure. */
export async function api(path, { json, form, signal } = {}) {
  const init = { signal, headers: { accept: 'application/json' } };
  const key = apiKey();
  if (key) init.headers['x-api-key'] = key;
  if (json !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.method = 'POST';
    init.body = form;
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError({
      statusCode: 0,
      code: 'NETWORK_ERROR',
      error: 'Network error',
      message: `The service did not answer (${err?.message ?? err}). Is it still running?`,
    });
  }
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const fallback = {
      statusCode: res.status,
      code: `HTTP_${res.status}`,
      error: res.statusText || 'Error',
      message: text.slice(0, 300) || 'The service answered without a body.',
    };
    throw new ApiError(
      body && typeof body === 'object' && typeof body.message === 'string' ? body : fallback,
    );
  }
  return body;
}

/** A client-side problem (bad JSON in a textarea…) in the same shape as the API's errors. */
export function clientError(code, message, detail = {}) {
  return new ApiError({ statusCode: 0, code, error: 'Not sent', message, ...detail });
}

function describe(value) {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  const text = JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** A detail the message does not already spell out. */
const unsaid = (message, text) => (text === undefined || message.includes(text) ? undefined : text);

/** Fills an error box (role=alert) with the error's status, code, message and details. */
export function showError(box, err) {
  const body =
    err instanceof ApiError
      ? err.body
      : { statusCode: 0, code: 'UNEXPECTED', error: 'Error', message: String(err?.message ?? err) };
  const title = body.statusCode ? `${body.statusCode} ${body.error}` : body.error;
  const details = [
    ['Field', body.field],
    ['Received', unsaid(body.message, describe(body.received))],
    ['Expected', unsaid(body.message, describe(body.expected))],
    ['Retry after', body.retryAfter === undefined ? undefined : `${body.retryAfter} s`],
  ].filter(([, v]) => v !== undefined && v !== '');
  // replaceChildren writes null as the text "null": leave absent parts out instead.
  const parts = [
    h(
      'p',
      { class: 'error-title' },
      h('span', { class: 'error-icon', 'aria-hidden': 'true' }, '!'),
      title,
      ' ',
      h('code', {}, body.code),
    ),
    h('p', { class: 'error-message' }, body.message),
    details.length
      ? h(
          'dl',
          { class: 'error-details' },
          details.map(([k, v]) => [h('dt', {}, k), h('dd', {}, h('code', {}, v))]),
        )
      : null,
    body.statusCode === 401
      ? h(
          'p',
          { class: 'error-message' },
          apiKey()
            ? 'The API key in use was refused: check it under “API key” at the top of the page.'
            : 'This service needs an API key: enter it under “API key” at the top of the page.',
        )
      : null,
  ];
  box.replaceChildren(...parts.filter((p) => p !== null));
  box.hidden = false;
}

export function hideError(box) {
  box.hidden = true;
  box.replaceChildren();
}
