// One submit cycle for the forms that POST /analyze (Explore and Compare): build the request (a form
// error stops it before anything is sent), cancel the previous request, show progress, then render
// the answer or the API's error in the form's own error box and live status line.
import { api, ApiError, hideError, showError } from './api.js';
import { $ } from './dom.js';

export function analysisForm({ prefix, busy, failed, build, render, summary }) {
  let controller;
  return async function submit() {
    const errorBox = $(`#${prefix}-error`);
    const status = $(`#${prefix}-status`);
    const results = $(`#${prefix}-results`);
    hideError(errorBox);
    let req;
    try {
      req = build();
    } catch (err) {
      showError(errorBox, err);
      status.textContent = 'Nothing was sent: fix the form first.';
      return;
    }
    controller?.abort();
    controller = new AbortController();
    status.textContent = busy(req);
    results.setAttribute('aria-busy', 'true');
    try {
      const res = await api('/analyze', { json: req.body, signal: controller.signal });
      results.replaceChildren(render(res));
      status.textContent = summary(res);
    } catch (err) {
      if (err?.name === 'AbortError') return;
      results.replaceChildren();
      showError(errorBox, err);
      status.textContent = err instanceof ApiError ? `${failed}: ${err.body.code}.` : `${failed}.`;
    } finally {
      results.removeAttribute('aria-busy');
    }
  };
}
