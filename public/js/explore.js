// Explore: a built-in architecture (GET /architectures) or a pasted spec, through POST /analyze,
// drawn by report.js.

import { clientError, showError } from './api.js';
import { analysisForm } from './analysis-form.js';
import { $, $$, h } from './dom.js';
import {
  architectureOptions,
  architectures,
  inception3aWithoutBottlenecks,
  parseSpec,
  prettyJson,
} from './architectures.js';
import { compact, shape } from './format.js';
import { renderReport } from './report.js';

const FIRST = 'inception_3a';
const QUICK = ['seed_5x5', 'seed_5x5_bottleneck', 'inception_3a', 'resnet50', 'googlenet'];

let list = [];
let started = false;
let debounce;

export function initExplore({ onTabShown }) {
  const form = $('#explore-form');
  const select = $('#explore-model');
  for (const radio of $$('input[name="explore-source"]')) radio.addEventListener('change', syncSource);
  select.addEventListener('change', () => {
    describe();
    clearTimeout(debounce);
    debounce = setTimeout(analyze, 120); // choosing is asking: analyse without a second click
  });
  $('#explore-training').addEventListener('change', () => analyze());
  $('#explore-example').addEventListener('click', () => {
    $('#explore-spec').value = prettyJson(inception3aWithoutBottlenecks());
    $('#explore-spec').focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    analyze();
  });
  // Nothing is fetched for Explore until it is first opened.
  onTabShown((name) => {
    if (name === 'explore' && !started) {
      started = true;
      load();
    }
  });
}

/** Selects a built-in architecture and analyses it (used by the quick buttons and by Compare). */
export function exploreModel(name) {
  const radio = $('input[name="explore-source"][value="model"]');
  radio.checked = true;
  syncSource();
  $('#explore-model').value = name;
  describe();
  analyze();
}

async function load() {
  const select = $('#explore-model');
  try {
    list = await architectures();
    select.replaceChildren(...architectureOptions(list));
    select.disabled = false;
    select.value = FIRST;
    $('#explore-quick').append(
      ...QUICK.filter((n) => list.some((a) => a.name === n)).map((n) =>
        h('button', { type: 'button', class: 'chip', onclick: () => exploreModel(n) }, n),
      ),
    );
    describe();
    analyze();
  } catch (err) {
    select.replaceChildren(h('option', {}, 'Architectures unavailable'));
    showError($('#explore-error'), err);
  }
}

function syncSource() {
  const spec = $('input[name="explore-source"]:checked').value === 'spec';
  $('#explore-model-fields').hidden = spec;
  $('#explore-spec-fields').hidden = !spec;
  if (spec && !$('#explore-spec').value.trim())
    $('#explore-spec').value = prettyJson(inception3aWithoutBottlenecks());
}

function describe() {
  const a = list.find((x) => x.name === $('#explore-model').value);
  const desc = $('#explore-model-desc');
  if (!a) {
    desc.textContent = '';
    return;
  }
  desc.textContent = `${a.description}. Default input ${shape(a.input)}; ${compact(a.params)} params, ${compact(a.macs)} MACs. ${a.reference}`;
  ['h', 'w', 'c'].forEach((k, i) => {
    $(`#explore-${k}`).placeholder = String(a.input[i]);
  });
}

/** The request body from the form, or a client error that says what to fix. */
function request() {
  const source = $('input[name="explore-source"]:checked').value;
  const batchText = $('#explore-batch').value.trim();
  const batch = batchText ? Number(batchText) : undefined;
  if (batch !== undefined && (!Number.isInteger(batch) || batch < 1))
    throw clientError(
      'INVALID_BATCH',
      `Batch: expected a whole number of at least 1; received "${batchText}".`,
      { field: 'batch' },
    );
  const optimizer = $('#explore-training').value;
  // The training batch follows the request's batch (the API's default).
  const training = optimizer ? { training: { optimizer } } : {};
  if (source === 'spec') {
    const parsed = parseSpec($('#explore-spec').value);
    if (parsed.error) throw clientError('INVALID_SPEC_JSON', parsed.error, { field: 'spec' });
    return {
      body: { spec: parsed.spec, ...(batch ? { batch } : {}), ...training },
      label: parsed.spec?.name ?? 'the spec',
    };
  }
  const model = $('#explore-model').value;
  const dims = ['h', 'w', 'c'].map((k) => $(`#explore-${k}`).value.trim());
  const body = { model, ...(batch ? { batch } : {}), ...training };
  if (dims.some(Boolean)) {
    if (!dims.every(Boolean))
      throw clientError(
        'INCOMPLETE_INPUT',
        'Input size: set height, width and channels together, or leave all three empty for the default.',
        { field: 'input' },
      );
    const input = dims.map(Number);
    if (!input.every((n) => Number.isInteger(n) && n >= 1))
      throw clientError(
        'INVALID_INPUT',
        `Input size: expected whole numbers of at least 1; received ${dims.join(' × ')}.`,
        { field: 'input' },
      );
    body.input = input;
  }
  return { body, label: model };
}

const analyze = analysisForm({
  prefix: 'explore',
  busy: (req) => `Analysing ${req.label}…`,
  failed: 'Analysis failed',
  build: request,
  render: renderReport,
  summary: (report) => {
    const b = report.bottlenecks
      .slice()
      .sort((x, y) => y.macsWithout - y.macsWith - (x.macsWithout - x.macsWith))[0];
    return `Analysed ${report.model}: ${compact(report.totals.params)} parameters, ${compact(report.totals.macs)} MACs, ${report.totals.layers} layers.${b ? ` Largest bottleneck saving: ${compact(b.macsWithout)} without, ${compact(b.macsWith)} with.` : ''}`;
  },
});
