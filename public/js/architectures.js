// The built-in architectures (GET /architectures, fetched once and shared by Explore and Compare),
// and the one spec the page writes itself.

import { api } from './api.js';
import { h } from './dom.js';
import { compact } from './format.js';

let pending;

/** [{name, family, layout, description, input, params, macs, …}] from GET /architectures. */
export function architectures() {
  pending ??= api('/architectures')
    .then((body) => body.architectures)
    .catch((err) => {
      pending = undefined; // let the next caller try again
      throw err;
    });
  return pending;
}

const FAMILY_LABELS = {
  lecture: 'Lecture examples',
  resnet: 'ResNet',
  inception: 'Inception',
  mobilenet: 'MobileNet',
  efficientnet: 'EfficientNet',
  plain: 'Plain (no shortcuts)',
};
const FAMILY_ORDER = ['lecture', 'resnet', 'inception', 'mobilenet', 'efficientnet', 'plain'];

/** <optgroup>s by family, lecture examples first, each option showing its size. */
export function architectureOptions(list) {
  const families = [...new Set(list.map((a) => a.family))].sort((a, b) => rank(a) - rank(b));
  return families.map((family) =>
    h(
      'optgroup',
      { label: FAMILY_LABELS[family] ?? family },
      list
        .filter((a) => a.family === family)
        .map((a) =>
          h('option', { value: a.name }, `${a.name} — ${compact(a.params)} params, ${compact(a.macs)} MACs`),
        ),
    ),
  );
}

function rank(family) {
  const i = FAMILY_ORDER.indexOf(family);
  return i < 0 ? FAMILY_ORDER.length : i;
}

const conv = (name, filters, kernel) => ({ kind: 'conv2d', name, filters, kernel, padding: 'same' });
const relu = (name) => ({ kind: 'activation', name, function: 'relu' });

/**
 * GoogLeNet's inception (3a) on 28x28x192 with the same widths as the built-in `inception_3a`
 * (64 | 128 | 32 | 32 → 28x28x256), but its 3x3 and 5x5 convs read the 192 input channels directly:
 * the 1x1 reduce convs (96 and 16 filters) are gone. The pool projection stays, as in the paper.
 */
export function inception3aWithoutBottlenecks() {
  const p = 'inception_3a';
  return {
    name: 'inception_3a_no_bottleneck',
    input: [28, 28, 192],
    layers: [
      {
        kind: 'branches',
        name: p,
        branches: [
          { name: `${p}_branch1x1`, layers: [conv(`${p}_1x1`, 64, 1), relu(`${p}_1x1_relu`)] }, // 28x28x64
          { name: `${p}_branch3x3`, layers: [conv(`${p}_3x3`, 128, 3), relu(`${p}_3x3_relu`)] }, // 28x28x128
          { name: `${p}_branch5x5`, layers: [conv(`${p}_5x5`, 32, 5), relu(`${p}_5x5_relu`)] }, // 28x28x32
          {
            name: `${p}_branch_pool`,
            layers: [
              { kind: 'maxpool', name: `${p}_pool`, pool: 3, strides: 1, padding: 'same' },
              conv(`${p}_pool_proj`, 32, 1),
              relu(`${p}_pool_proj_relu`),
            ], // 28x28x32
          },
        ],
      },
    ],
  };
}

/** JSON on one line with a space after each comma and colon, as people write it. */
function oneLine(value) {
  if (Array.isArray(value)) return `[${value.map(oneLine).join(', ')}]`;
  if (value && typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`)
      .join(', ')}}`;
  return JSON.stringify(value);
}

/** JSON indented by two, but any object or array that fits in `width` characters stays on one line. */
export function prettyJson(value, indent = '', width = 112) {
  const flat = oneLine(value);
  if (typeof value !== 'object' || value === null || indent.length + flat.length <= width) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value))
    return `[\n${value.map((v) => inner + prettyJson(v, inner, width)).join(',\n')}\n${indent}]`;
  return `{\n${Object.entries(value)
    .map(([k, v]) => `${inner}${JSON.stringify(k)}: ${prettyJson(v, inner, width)}`)
    .join(',\n')}\n${indent}}`;
}

/** A target for POST /analyze from a textarea: parsed, or a readable reason it cannot be. */
export function parseSpec(text) {
  const trimmed = text.trim();
  if (!trimmed) return { error: 'The spec is empty. Paste an architecture spec, or insert the example.' };
  try {
    const value = JSON.parse(trimmed);
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      return { error: 'The spec must be a JSON object with "input" and "layers".' };
    // Accept a whole request body ({"spec": {...}}) as well as the bare spec.
    return { spec: 'spec' in value && typeof value.spec === 'object' ? value.spec : value };
  } catch (err) {
    return { error: `The spec is not valid JSON: ${err.message}` };
  }
}
