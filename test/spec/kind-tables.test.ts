// A layer kind is one descriptor plus one entry in each backend table, and forgetting an entry is a
// compile error, not a run-time throw or a silent drop. Proved by compiling the project with a probe
// kind registered in the kind table (and, separately, a probe activation function) and no backend
// entries: TypeScript must refuse exactly the backend tables, each naming the probe.
import t from 'tap';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('../..', import.meta.url));
const at = (rel: string) => path.join(root, rel).split(path.sep).join('/');

/** The backend tables a new kind needs an entry in (the weight binder reads the descriptors and needs none). */
const KIND_TABLES = [
  'src/engines/tfjs/executor.ts',
  'src/interop/onnx/emit.ts',
  'src/interop/keras/layers.ts',
  'src/interop/keras/export.ts',
];
/** And a new activation function. */
const ACTIVATION_TABLES = [
  'src/engines/tfjs/activations.ts',
  'src/interop/onnx/emit.ts',
  'src/interop/keras/export.ts',
];

const PROBE_KIND = `
import type { KindDef, Named } from './kind.js';
import { noWeights, passThrough, savesNothing, zero } from './shared.js';
export interface ProbeSpec extends Named { kind: 'probe' }
export const probe: KindDef<{ strength: number }, ProbeSpec> = {
  summary: 'a probe', stem: 'probe',
  authoring: { properties: {}, read: () => ({ strength: 1 }), example: { kind: 'probe' } },
  rule: { cost: 'zero', outputShape: passThrough, weights: noWeights, macs: zero, elementOps: zero, saves: savesNothing },
  traits: { channelwise: true, mixesChannels: false, nonNegative: () => false, arity: 'one' },
};
`;

/** Compiles the project (tsconfig.json) with some files replaced; returns the files with errors and their messages. */
function compileWith(overlay: Map<string, string>): Map<string, string[]> {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    at('tsconfig.json'),
    { noEmit: true },
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  )!;
  const host = ts.createCompilerHost(parsed.options);
  const original = {
    getSourceFile: host.getSourceFile,
    fileExists: host.fileExists,
    readFile: host.readFile,
  };
  host.fileExists = (f) => overlay.has(f) || original.fileExists(f);
  host.readFile = (f) => overlay.get(f) ?? original.readFile(f);
  host.getSourceFile = (f, lang, ...rest) =>
    overlay.has(f) ? ts.createSourceFile(f, overlay.get(f)!, lang) : original.getSourceFile(f, lang, ...rest);
  const rootNames = [...new Set([...parsed.fileNames, ...overlay.keys()])];
  const program = ts.createProgram({ rootNames, options: { ...parsed.options, noEmit: true }, host });
  const errors = new Map<string, string[]>();
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? path.relative(root, d.file.fileName).split(path.sep).join('/') : '(global)';
    errors.set(file, [...(errors.get(file) ?? []), ts.flattenDiagnosticMessageText(d.messageText, '\n')]);
  }
  return errors;
}

const read = (rel: string) => ts.sys.readFile(at(rel))!;

/** `source` with `insert` placed before the first `close` that follows `after`. */
function insertBefore(source: string, after: string, close: string, insert: string): string {
  const start = source.indexOf(after);
  const end = source.indexOf(close, start);
  return start < 0 || end < 0 ? source : `${source.slice(0, end)}${insert}${source.slice(end)}`;
}

t.test(
  'a kind registered in the kind table without backend entries fails to compile in every backend table',
  async (t) => {
    const index = insertBefore(
      `import { probe } from './probe.js';\n${read('src/spec/kinds/index.ts')}`,
      'export const KINDS = {',
      '\n};',
      '\n  probe,',
    );
    t.not(index, read('src/spec/kinds/index.ts'), 'the probe is registered');
    const errors = compileWith(
      new Map([
        [at('src/spec/kinds/probe.ts'), PROBE_KIND],
        [at('src/spec/kinds/index.ts'), index],
      ]),
    );
    t.same([...errors.keys()].sort(), [...KIND_TABLES].sort(), 'errors in exactly the backend tables');
    for (const file of KIND_TABLES)
      t.match(errors.get(file)?.join('\n') ?? '', /probe/, `${file} names the missing kind`);
  },
);

t.test(
  'an activation function without engine entries fails to compile in every activation table',
  async (t) => {
    const activations = insertBefore(
      insertBefore(
        read('src/spec/activations.ts'),
        'export const ACTIVATION_FNS = [',
        '\n] as const;',
        " 'probe_fn',",
      ),
      'export const ACTIVATIONS:',
      '\n};',
      "\n  probe_fn: { nonNegative: false, backwardReads: 'input' },",
    );
    t.not(activations, read('src/spec/activations.ts'), 'the probe function is declared');
    const errors = compileWith(new Map([[at('src/spec/activations.ts'), activations]]));
    t.same(
      [...errors.keys()].sort(),
      [...ACTIVATION_TABLES].sort(),
      'errors in exactly the activation tables',
    );
    for (const file of ACTIVATION_TABLES)
      t.match(errors.get(file)?.join('\n') ?? '', /probe_fn/, `${file} names the missing function`);
  },
);
