// Imports point down only (docs/ARCHITECTURE.md): a module may import from its own layer or the layers
// below it, never from one above; and the tools beside the product (bench/, scripts/) never import
// from test/. Cycles are checked apart, by madge (`npm run check:cycles`).
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Layers, lowest first; a path's layer is the first prefix that matches. */
const LAYERS: [rank: number, prefixes: string[]][] = [
  [
    0,
    [
      'src/errors.ts',
      'src/invariant.ts',
      'src/spawn-worker.ts',
      'src/thread-priority.ts',
      'src/thread-cpu.ts',
    ],
  ],
  [1, ['src/spec/']],
  [2, ['models/', 'src/analysis/', 'src/weights/']],
  [3, ['src/interop/']],
  [4, ['src/engines/']],
  [5, ['src/serving/', 'src/services/', 'src/config.ts']],
  [6, ['src/plugins/', 'routes/']],
  [7, ['src/app.ts']],
  [8, ['src/cli/', 'src/server.ts', 'src/shutdown.ts']],
];

function rankOf(rel: string): number | undefined {
  return LAYERS.find(([, prefixes]) => prefixes.some((p) => rel.startsWith(p)))?.[0];
}

function files(dir: string): string[] {
  return readdirSync(path.join(root, dir)).flatMap((name) => {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) return files(rel);
    return rel.endsWith('.ts') ? [rel] : [];
  });
}

/** The repo paths (`.ts`) a file's relative imports, static or dynamic, resolve to. */
function importsOf(file: string, source: string): string[] {
  return [...source.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map(([, spec]) =>
    path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts'),
  );
}

t.test('every module imports from its own layer or below', async (t) => {
  const all = [...files('src'), ...files('routes'), ...files('models')];
  const upward: string[] = [];
  const unplaced: string[] = [];
  for (const file of all) {
    const rank = rankOf(file);
    if (rank === undefined) {
      unplaced.push(file);
      continue;
    }
    const source = readFileSync(path.join(root, file), 'utf8');
    for (const target of importsOf(file, source)) {
      const targetRank = rankOf(target);
      if (targetRank === undefined) unplaced.push(`${file} → ${target}`);
      else if (targetRank > rank) upward.push(`${file} (layer ${rank}) → ${target} (layer ${targetRank})`);
    }
  }
  t.same(unplaced, [], 'every module belongs to a layer');
  t.same(upward, [], 'no import points up');
  t.ok(all.length > 100, `${all.length} modules checked`);
});

/** Imports of test/ code from bench/ and scripts/: `file → target`. */
function intoTests(sources: [file: string, source: string][]): string[] {
  return sources.flatMap(([file, source]) =>
    importsOf(file, source)
      .filter((target) => target.startsWith('test/'))
      .map((target) => `${file} → ${target}`),
  );
}

t.test('bench/ and scripts/ import nothing from test/', async (t) => {
  const tools = [...files('bench'), ...files('scripts')];
  t.same(
    intoTests(tools.map((f) => [f, readFileSync(path.join(root, f), 'utf8')])),
    [],
    'no file in bench/ or scripts/ imports test code',
  );
  t.ok(tools.includes('bench/run.ts'), `${tools.length} files checked`);
  t.same(
    intoTests([
      ['bench/run.ts', "import { randomInput } from '../test/helpers/onnx.js';"],
      ['bench/lib/x.ts', "const m = await import('../../test/helpers/app.js');"],
      ['scripts/x.ts', "import { rng } from '../bench/lib/random.js';"],
    ]),
    ['bench/run.ts → test/helpers/onnx.ts', 'bench/lib/x.ts → test/helpers/app.ts'],
    'the check sees a static and a dynamic import of test code',
  );
});
