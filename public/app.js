// Entry point: the tabs (WAI-ARIA tabs pattern: roving tabindex, arrow keys, Home/End, automatic
// activation), the URL hash that remembers the open tab, and the three sections.

import { $, $$ } from './js/dom.js';
import { apiKey, setApiKey } from './js/api.js';
import { initClassify } from './js/classify.js';
import { initExplore } from './js/explore.js';
import { initProfile } from './js/profile.js';
import { initCompare } from './js/compare.js';

const tabs = $$('[role="tab"]');
const listeners = new Set();

/** Sections that load lazily (Explore) hear when their tab is shown. */
function onTabShown(fn) {
  listeners.add(fn);
}

function select(tab, { focus = false, updateHash = true } = {}) {
  for (const t of tabs) {
    const selected = t === tab;
    t.setAttribute('aria-selected', String(selected));
    t.tabIndex = selected ? 0 : -1;
    document.getElementById(t.getAttribute('aria-controls')).hidden = !selected;
  }
  if (focus) tab.focus();
  const name = tab.id.replace(/^tab-/, '');
  if (updateHash && location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  for (const fn of listeners) fn(name);
}

for (const tab of tabs) {
  tab.addEventListener('click', () => select(tab));
  tab.addEventListener('keydown', (event) => {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length], { focus: true });
  });
}

function fromHash() {
  const name = location.hash.replace(/^#/, '');
  const tab = document.getElementById(`tab-${name}`);
  if (tab) select(tab, { updateHash: false });
}
// The optional API key: saved for this tab, then the page reloads so every list is fetched with it.
$('#api-key').value = apiKey();
$('#key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  setApiKey($('#api-key').value.trim());
  location.reload();
});
$('#key-clear').addEventListener('click', () => {
  setApiKey('');
  location.reload();
});

initClassify();
initExplore({ onTabShown });
initProfile({ onTabShown });
initCompare();

// After the sections are set up, so a link to #explore loads its analysis.
window.addEventListener('hashchange', fromHash);
fromHash();
