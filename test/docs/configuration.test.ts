// The configuration table in docs/configuration.md against src/config.ts: every variable the code
// reads is documented and nothing else is, and each default the table writes as a value (a cell
// that starts with a backticked value) is the one loadConfig applies: setting the variable to it
// changes nothing.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { loadConfig } from '../../src/config.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

/** Variable names src/config.ts reads: `env.NAME` and helper calls such as `int(env, 'NAME', ...)`. */
function variablesInCode(): Set<string> {
  const source = read('src/config.ts');
  const names = [...source.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)|, '([A-Z][A-Z0-9_]*)')/g)].map(
    (m) => m[1] ?? m[2],
  );
  return new Set(names);
}

interface Row {
  variable: string;
  defaultCell: string;
}

function tableRows(): Row[] {
  const section = read('docs/configuration.md').split('## Environment variables')[1].split('\n## ')[0];
  return section
    .split('\n')
    .filter((line) => /^\| `[A-Z][A-Z0-9_]*` \|/.test(line))
    .map((line) => {
      const cells = line.split(' | ').map((c) => c.replace(/^\| /, '').trim());
      return { variable: cells[0].replace(/`/g, ''), defaultCell: cells[1] };
    });
}

const rows = tableRows();
const documented = new Set(rows.map((r) => r.variable));
const inCode = variablesInCode();

t.test('the table lists every variable src/config.ts reads, and no other', async (t) => {
  t.ok(inCode.size >= 25, `found ${inCode.size} variables in src/config.ts`);
  t.same(
    [...inCode].filter((v) => !documented.has(v)).sort(),
    [],
    'read by the code, missing from the table',
  );
  t.same([...documented].filter((v) => !inCode.has(v)).sort(), [], 'in the table, not read by the code');
  t.equal(rows.length, documented.size, 'each variable once');
});

t.test('every default written as a value is the default the code applies', async (t) => {
  const defaults = loadConfig({});
  const literal = rows.filter((r) => r.defaultCell.startsWith('`'));
  t.ok(literal.length >= 15, `${literal.length} defaults written as values`);
  for (const { variable, defaultCell } of literal) {
    const value = /^`([^`]*)`/.exec(defaultCell)?.[1] ?? '';
    let config: unknown;
    try {
      config = loadConfig({ [variable]: value });
    } catch (err) {
      t.fail(`${variable}=${value} is refused: ${(err as Error).message}`);
      continue;
    }
    t.ok(isDeepStrictEqual(config, defaults), `${variable}=${value} is the default`);
  }
  t.ok(
    rows.every((r) => r.defaultCell !== ''),
    'every row states its default, as a value or in words',
  );
});

t.test('the check can fail: a wrong default is noticed', async (t) => {
  t.notOk(isDeepStrictEqual(loadConfig({ SHUTDOWN_DELAY_MS: '2000' }), loadConfig({})));
});
