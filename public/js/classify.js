// Classify: pick or drop images, choose a served model (GET /models), POST multipart to /classify,
// show each image's top-k as horizontal bars with the timings; with Explain, each image's Grad-CAM
// overlay beside its bars, with a button that switches between the overlay and the image.

import { api, ApiError, clientError, hideError, showError } from './api.js';
import { $, clear, h } from './dom.js';
import { bytes, compact, ms, pct, shape } from './format.js';

let files = [];
let previews = [];
let resultUrls = [];
let models = new Map();
let controller;

export function initClassify() {
  const form = $('#classify-form');
  const input = $('#classify-file');
  const drop = $('#classify-drop');
  const select = $('#classify-model');

  input.addEventListener('change', () => {
    addFiles(input.files);
    input.value = ''; // picking the same file again still fires change
  });
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      drop.classList.add('dragging');
    });
  }
  for (const type of ['dragleave', 'dragend'])
    drop.addEventListener(type, () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('dragging');
    addFiles(event.dataTransfer.files);
  });
  // A file dropped beside the zone would otherwise replace the page with the image.
  for (const type of ['dragover', 'drop']) window.addEventListener(type, (event) => event.preventDefault());

  select.addEventListener('change', () => describeModel(select.value));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    classify();
  });
  loadModels();
}

async function loadModels() {
  const select = $('#classify-model');
  const info = $('#classify-model-info');
  try {
    const body = await api('/models');
    models = new Map(body.models.map((m) => [m.name, m]));
    if (models.size === 0) {
      select.replaceChildren(h('option', {}, 'No models are served'));
      info.textContent =
        'This service runs without served models, so classification is off. Explore and Compare still work.';
      $('#classify-submit').disabled = true;
      return;
    }
    select.replaceChildren(
      ...body.models.map((m) =>
        h(
          'option',
          { value: m.name, disabled: m.state !== 'ready' },
          m.state === 'ready'
            ? `${m.name}${m.name === body.default ? ' (default)' : ''}`
            : `${m.name} — ${m.state}`,
        ),
      ),
    );
    const fallback = body.models.find((m) => m.state === 'ready');
    const preferred = models.get(body.default);
    const chosen = preferred?.state === 'ready' ? preferred : fallback;
    select.disabled = false;
    if (chosen) select.value = chosen.name;
    describeModel(chosen?.name, preferred && preferred !== chosen ? preferred : undefined);
  } catch (err) {
    select.replaceChildren(h('option', {}, 'Models unavailable'));
    $('#classify-submit').disabled = true;
    showError($('#classify-error'), err);
  }
}

/** The chosen model's input and cost; and why the default is not the one selected, if it is not. */
function describeModel(name, skippedDefault) {
  const info = $('#classify-model-info');
  const topk = $('#classify-topk');
  const m = models.get(name);
  const parts = [];
  if (m) {
    parts.push(`Input ${shape(m.input)}`, `${m.classes} classes`);
    if (m.backend)
      parts.push(m.engine && !m.backend.startsWith(m.engine) ? `${m.engine} on ${m.backend}` : m.backend);
    if (m.params) parts.push(`${compact(m.params)} params`);
    if (m.macs) parts.push(`${compact(m.macs)} MACs per image`);
    topk.placeholder = String(m.topk ?? 5);
    topk.max = String(m.classes ?? 1000);
  }
  const notes = [parts.join(' · ')];
  if (skippedDefault)
    notes.push(
      `The default model, ${skippedDefault.name}, is ${skippedDefault.state}${skippedDefault.error ? `: ${skippedDefault.error}` : ''}.`,
    );
  if (!m) notes.push('No served model is ready.');
  info.textContent = notes.filter(Boolean).join(' ');
  $('#classify-submit').disabled = !m;
}

function addFiles(list) {
  const added = [...list];
  if (!added.length) return;
  files = files.concat(added);
  renderPreviews();
  $('#classify-status').textContent =
    `${files.length} image${files.length === 1 ? '' : 's'} ready to classify.`;
}

function renderPreviews() {
  for (const url of previews) URL.revokeObjectURL(url);
  previews = files.map((f) => URL.createObjectURL(f));
  const list = $('#classify-previews');
  list.replaceChildren(
    ...files.map((f, i) =>
      h(
        'li',
        { class: 'preview' },
        f.type.startsWith('image/')
          ? h('img', { src: previews[i], alt: '', width: 48, height: 48 })
          : h(
              'span',
              { class: 'file-badge', 'aria-hidden': 'true' },
              (f.name.split('.').pop() ?? '').slice(0, 4) || '?',
            ),
        h('span', { class: 'preview-name' }, f.name, h('span', { class: 'hint' }, ` ${bytes(f.size)}`)),
        h(
          'button',
          {
            type: 'button',
            class: 'icon-button',
            'aria-label': `Remove ${f.name}`,
            onclick: () => removeFile(i),
          },
          '×',
        ),
      ),
    ),
  );
}

function removeFile(i) {
  files = files.filter((_, j) => j !== i);
  renderPreviews();
  $('#classify-status').textContent = files.length
    ? `${files.length} image${files.length === 1 ? '' : 's'} ready to classify.`
    : 'No image chosen.';
  $('#classify-file').focus();
}

async function classify() {
  const errorBox = $('#classify-error');
  const status = $('#classify-status');
  const results = $('#classify-results');
  const button = $('#classify-submit');
  const model = $('#classify-model').value;
  const topk = $('#classify-topk').value.trim();
  hideError(errorBox);
  if (!files.length) {
    showError(errorBox, clientError('NO_IMAGES', 'Choose or drop at least one image first.'));
    status.textContent = '';
    return;
  }
  controller?.abort();
  controller = new AbortController();
  const form = new FormData();
  if (model) form.append('model', model);
  if (topk) form.append('topk', topk);
  if ($('#classify-explain').checked) form.append('explain', 'gradcam');
  for (const f of files) form.append('image', f, f.name);
  const sent = files.slice();
  button.disabled = true;
  results.setAttribute('aria-busy', 'true');
  status.textContent = `Classifying ${sent.length} image${sent.length === 1 ? '' : 's'} with ${model}…`;
  const t0 = performance.now();
  try {
    const body = await api('/classify', { form, signal: controller.signal });
    const roundTrip = performance.now() - t0;
    renderResults(body, sent, roundTrip);
    const first = body.results[0]?.predictions[0];
    status.textContent = `Classified ${body.results.length} image${body.results.length === 1 ? '' : 's'} with ${body.model}.${first ? ` Top label for ${body.results[0].file}: ${first.label}, ${pct(first.probability)}.` : ''}`;
  } catch (err) {
    if (err?.name === 'AbortError') return;
    clear(results);
    showError(errorBox, err);
    status.textContent =
      err instanceof ApiError ? `Classification failed: ${err.body.code}.` : 'Classification failed.';
  } finally {
    button.disabled = !models.get($('#classify-model').value);
    results.removeAttribute('aria-busy');
  }
}

function renderResults(body, sent, roundTrip) {
  const results = $('#classify-results');
  // Own object URLs: the previews' are revoked as soon as the picked files change.
  for (const url of resultUrls) URL.revokeObjectURL(url);
  resultUrls = sent.map((f) => (f.type.startsWith('image/') ? URL.createObjectURL(f) : ''));
  const t = body.timings ?? {};
  const timings = [
    ['Decode', t.decodeMs],
    ['Queue', t.queueMs],
    ['Inference', t.inferMs],
    ...(t.explainMs === undefined ? [] : [['Explanation', t.explainMs]]),
    ['Round trip', roundTrip],
  ];
  results.replaceChildren(
    h(
      'div',
      { class: 'result-meta' },
      h(
        'p',
        {},
        'Model ',
        h('strong', {}, body.model),
        body.backend ? [' on ', h('strong', {}, body.backend)] : null,
      ),
      h(
        'dl',
        { class: 'timings', 'aria-label': 'Timings' },
        timings.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, ms(v)))),
      ),
    ),
    ...body.results.map((r, i) => resultCard(r, resultUrls[i])),
  );
}

function resultCard(result, url) {
  const top = result.predictions[0]?.probability ?? 0;
  return h(
    'article',
    { class: 'card result-card' },
    h(
      'header',
      { class: 'result-head' },
      url ? h('img', { class: 'result-thumb', src: url, alt: '', width: 64, height: 64 }) : null,
      h(
        'div',
        {},
        h('h3', { class: 'result-title' }, result.file),
        result.predictions[0]
          ? h('p', { class: 'hint' }, `Top: ${result.predictions[0].label}, ${pct(top)}`)
          : null,
      ),
    ),
    h(
      'div',
      { class: 'result-body' },
      bars(result),
      result.explanation ? explanationFigure(result, url) : null,
    ),
  );
}

/** The overlay of the map on the image, and a toggle to see the image alone (when the page has it). */
function explanationFigure(result, url) {
  const e = result.explanation;
  const caption = `Grad-CAM for ${e.label} at ${e.layer} (${e.map.height}×${e.map.width})`;
  const img = h('img', {
    class: 'explain-image',
    src: e.overlay,
    alt: `${caption}, over ${result.file}`,
    width: 160,
    height: 160,
  });
  const toggle = url
    ? h(
        'button',
        {
          type: 'button',
          class: 'explain-toggle',
          'aria-pressed': 'true',
          onclick: (event) => {
            const on = event.currentTarget.getAttribute('aria-pressed') !== 'true';
            event.currentTarget.setAttribute('aria-pressed', String(on));
            img.src = on ? e.overlay : url;
            img.alt = on ? `${caption}, over ${result.file}` : result.file;
          },
        },
        'Heat map',
      )
    : null;
  return h('figure', { class: 'explain' }, img, h('figcaption', { class: 'hint' }, caption, ' ', toggle));
}

function bars(result) {
  return h(
    'ol',
    { class: 'bars', 'aria-label': `Top ${result.predictions.length} labels for ${result.file}` },
    result.predictions.map((p, i) =>
      h(
        'li',
        { class: `bar-row${i === 0 ? ' top' : ''}` },
        h('span', { class: 'bar-label' }, p.label, h('span', { class: 'bar-index' }, ` #${p.index}`)),
        h(
          'span',
          { class: 'bar-track', 'aria-hidden': 'true' },
          h('span', { class: 'bar-fill', style: { width: `${Math.max(p.probability * 100, 0.5)}%` } }),
        ),
        h('span', { class: 'bar-value' }, pct(p.probability)),
      ),
    ),
  );
}
