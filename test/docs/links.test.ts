// The README stays short and leads to everything else: it is at most 250 lines, links every page
// in docs/, and every relative link in the README, docs/ and examples/ reaches a file (and, for
// `#anchors` into Markdown, a heading of that file, slugged as GitHub does).
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeBlocks, docFiles } from '../helpers/doc-examples.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const files = docFiles(ROOT);

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The Markdown outside code blocks (links inside code are not links). */
function prose(file: string): string {
  return codeBlocks(read(file), file)
    .map((b) => b.before)
    .join('\n')
    .concat('\n', read(file).split('```').at(-1) ?? '');
}

function anchors(file: string): Set<string> {
  const headings = prose(file)
    .split('\n')
    .filter((l) => /^#{1,6} /.test(l))
    .map((l) => slug(l.replace(/^#+ /, '')));
  return new Set(headings);
}

t.test('the README is at most 250 lines', async (t) => {
  const lines = read('README.md').split('\n').length;
  t.ok(lines <= 250, `README.md has ${lines} lines`);
});

t.test('the README links every page in docs/', async (t) => {
  const readme = read('README.md');
  const pages = files.filter((f) => f.startsWith('docs/'));
  t.ok(pages.length >= 8, `${pages.length} pages in docs/`);
  for (const page of pages) t.ok(readme.includes(`](${page}`), `README.md links ${page}`);
});

t.test('relative links reach a file and a heading', async (t) => {
  let checked = 0;
  for (const file of files) {
    for (const m of prose(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target)) continue; // http:, https:, mailto:
      const [where, anchor] = target.split('#');
      const resolved = where === '' ? file : path.join(path.dirname(file), where);
      checked++;
      if (!existsSync(path.join(ROOT, resolved))) {
        t.fail(`${file}: ${target} (${resolved} does not exist)`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md'))
        t.ok(anchors(resolved).has(anchor), `${file}: ${target} names a heading of ${resolved}`);
    }
  }
  t.ok(checked >= 30, `${checked} links checked`);
});

t.test('the slugs follow GitHub', async (t) => {
  t.equal(slug('POST /classify'), 'post-classify');
  t.equal(slug('config.json'), 'configjson');
  t.equal(slug('Limits, authentication and other behaviour'), 'limits-authentication-and-other-behaviour');
});
