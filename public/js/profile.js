// Explore's "Measured time per layer": a served model (GET /models) run by POST /analyze with
// "profile", drawn as a table with each row's measured time beside its MACs. One profile runs at a
// time on the service, so a 429 is shown like any other API error.

import { api, clientError, showError } from './api.js';
import { analysisForm } from './analysis-form.js';
import { meter } from './charts.js';
import { $, h, scroller } from './dom.js';
import { compact, ms, pct } from './format.js';

let started = false;

export function initProfile({ onTabShown }) {
  $('#profile-form').addEventListener('submit', (event) => {
    event.preventDefault();
    measure();
  });
  // The served models are listed when Explore is first opened; nothing is measured until asked.
  onTabShown((name) => {
    if (name === 'explore' && !started) {
      started = true;
      loadModels();
    }
  });
}

async function loadModels() {
  const select = $('#profile-model');
  try {
    const { models } = await api('/models');
    const ready = models.filter((m) => m.state === 'ready');
    select.replaceChildren(
      ...(ready.length
        ? ready.map((m) => h('option', { value: m.name }, `${m.name} (${m.engine})`))
        : [h('option', { value: '' }, 'No served model is ready')]),
    );
    select.disabled = ready.length === 0;
  } catch (err) {
    select.replaceChildren(h('option', { value: '' }, 'Served models unavailable'));
    showError($('#profile-error'), err);
  }
}

function request() {
  const model = $('#profile-model').value;
  if (!model) throw clientError('NO_MODEL', 'Served model: none is ready to measure.', { field: 'model' });
  const runsText = $('#profile-runs').value.trim();
  const runs = runsText ? Number(runsText) : 20;
  if (!Number.isInteger(runs) || runs < 1 || runs > 100)
    throw clientError(
      'INVALID_RUNS',
      `Runs: expected a whole number from 1 to 100; received "${runsText}".`,
      {
        field: 'profile.runs',
      },
    );
  const engine = $('#profile-engine').value;
  return { body: { model, profile: { runs, ...(engine ? { engine } : {}) } }, label: model };
}

const measure = analysisForm({
  prefix: 'profile',
  busy: (req) => `Measuring ${req.label} (${req.body.profile.runs} runs)…`,
  failed: 'Profile failed',
  build: request,
  render: renderProfile,
  summary: (p) =>
    `Measured ${p.model} on ${p.engine}: ${ms(p.totalMs)} over ${p.rows.length} rows (median of ${p.runs} runs, whole run ${ms(p.runMs)}).`,
});

function renderProfile(p) {
  const slowest = Math.max(...p.rows.map((r) => r.medianMs), 1e-9);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'profile-table-h' },
    h('h3', { class: 'section-title', id: 'profile-table-h' }, `${p.model} on ${p.engine}`),
    h('p', { class: 'hint' }, `Method: ${p.method}.`),
    scroller(
      'Measured time per layer',
      h(
        'table',
        { class: 'data compact', id: 'profile-table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Layer'),
            h('th', { scope: 'col' }, 'Kind'),
            h('th', { scope: 'col', class: 'num' }, 'MACs'),
            h('th', { scope: 'col', class: 'num' }, 'Median'),
            h('th', { scope: 'col', class: 'share-col' }, 'Share of time'),
            h('th', { scope: 'col', class: 'num' }, 'GFLOP/s'),
            h('th', { scope: 'col' }, 'Includes'),
          ),
        ),
        h(
          'tbody',
          {},
          p.rows.map((r) =>
            h(
              'tr',
              {},
              h('td', { class: 'name' }, r.layer),
              h('td', {}, r.kind),
              h('td', { class: 'num' }, r.macs ? compact(r.macs) : '–'),
              h('td', { class: 'num' }, meter(r.medianMs / slowest, 'cell-meter'), ms(r.medianMs)),
              h(
                'td',
                { class: 'share-col' },
                h(
                  'span',
                  { class: 'share' },
                  meter(r.share),
                  h('span', { class: 'share-text' }, pct(r.share)),
                ),
              ),
              h('td', { class: 'num' }, r.macs ? r.gflops.toFixed(1) : '–'),
              h('td', { class: 'hint' }, r.layers.slice(1).join(', ')),
            ),
          ),
        ),
      ),
    ),
    p.untimed.length
      ? h(
          'p',
          { class: 'hint' },
          `No time of their own (not run, or run inside another row's node): ${p.untimed.join(', ')}.`,
        )
      : null,
  );
}
