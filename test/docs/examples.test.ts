// Every example the README and docs/ mark runnable is run as a reader would run it, against a real
// server, and its shown output is compared with what it printed.
//
// The marking convention (also in examples/README.md):
//   ```sh runnable        a command run with bash from the repository root. `localhost:3000` is the
//                          documented address; here it becomes the test server's 127.0.0.1 port.
//                          It must exit 0. Blocks of a file run in order, so one may use what an
//                          earlier one wrote.
//   ```json output        directly after a runnable block: the JSON it prints. Keys, strings and
//                          integers must be equal; numbers with a fractional part agree within 0.5%
//                          (relative); arrays keep their length. `ignore=a,b` skips those keys
//                          wherever they appear (timings); `abridged` lets the block leave out keys
//                          and trailing array elements (say so in the text).
//   ```text output        directly after a runnable block: the text it prints, compared line by line
//                          and token by token (numbers as above); a line `...` stands for any lines.
//   ```json file=PATH     the block is the content of PATH (compared as parsed JSON).
// Unmarked blocks are not run: commands that need Docker, another configuration or user files.
//
// The server is `node dist/src/server.js` (npm test compiles first; run `npm run build` before
// running this file alone) with the default models, on 127.0.0.1 and a port the system picks.
// `npx convnet-serve` resolves to this package's own bin (npm 9.1 and later): one test runs it so,
// offline. The examples then reach the same bin through an `npx` shim first on PATH, which saves
// npm's start-up (about 1.5 s a command); every other `npx` goes to the real one, offline.
import t from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  blocksOf,
  compareJson,
  compareText,
  docFiles,
  runnableExamples,
  type CodeBlock,
  type Example,
} from '../helpers/doc-examples.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCUMENTED = /\b(?:localhost|127\.0\.0\.1):3000\b/g;
const COMMAND_TIMEOUT_MS = 60_000;

const files = docFiles(ROOT);
const blocks = files.flatMap((f) => blocksOf(ROOT, f));
const examples = runnableExamples(blocks);

t.test('the comparison rejects what it should (so the examples test can fail)', async (t) => {
  const how = { abridged: false, ignore: new Set(['timings']) };
  const answer = {
    model: 'fashion-resnet',
    results: [{ predictions: [{ label: 'Ankle boot', index: 9, probability: 0.9312 }] }],
    timings: { inferMs: 2.3 },
  };
  const shown = structuredClone(answer);
  shown.timings.inferMs = 99;
  t.same(compareJson(shown, answer, how), [], 'ignored keys and equal values pass');
  shown.results[0].predictions[0].probability = 0.93;
  t.same(compareJson(shown, answer, how), [], 'a rounded probability passes');
  shown.results[0].predictions[0].label = 'Sneaker';
  t.match(compareJson(shown, answer, how), [/label: expected "Sneaker"/], 'a wrong label fails');
  t.match(
    compareJson({ ...answer, results: [] }, answer, how),
    [/expected 0 elements, received 1/],
    'a different array length fails',
  );
  t.match(
    compareJson({ model: 'fashion-resnet' }, answer, how),
    [/results: in the answer but not shown/],
    'an unshown key fails unless abridged',
  );
  t.same(compareJson({ model: 'fashion-resnet' }, answer, { ...how, abridged: true }), []);
  t.match(
    compareJson({ n: 34_826 }, { n: 34_827 }, how),
    [/expected 34826, received 34827/],
    'integers are exact',
  );
  t.match(compareJson({ p: 0.5 }, { p: 0.6 }, how), [/expected 0.5, received 0.6/]);
  t.same(compareText('a  1,000\n...\nz 93.10%', 'a 1,000\nb\nc\nz 93.12%'), [], 'text with ... and numbers');
  t.match(compareText('a 1,000\nz', 'a 1,001\nz'), [/not printed/], 'a changed count fails');
  t.match(compareText('a\nb', 'a\nb\nc'), [/differ in number/], 'extra lines fail without ...');
});

t.test('the README and docs carry runnable examples', async (t) => {
  const inReadme = examples.filter((e) => e.block.file === 'README.md');
  t.ok(inReadme.length >= 5, `README.md has ${inReadme.length} runnable examples (at least 5)`);
  t.ok(examples.length >= 20, `${examples.length} runnable examples in all`);
});

t.test('blocks shown as a file hold that file', async (t) => {
  const shown = blocks.filter((b) => b.options.has('file'));
  t.ok(shown.length >= 1, 'at least one block shows a shipped file');
  for (const b of shown) {
    const file = b.options.get('file') ?? '';
    const actual = JSON.parse(readFileSync(new URL(file, `file://${ROOT}`), 'utf8'));
    t.same(JSON.parse(b.content), actual, `${b.file}:${b.line} is ${file}`);
  }
});

/** Starts the server on a port the system picks and resolves it once every model is ready. */
async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['dist/src/server.js'], {
    cwd: ROOT,
    // The documented answers were made with ONNX Runtime, which ENGINE=auto picks on a quiet machine.
    // Under the suite's parallel load its timing can pick tfjs (a CI run answered "wasm"); which
    // engine auto picks is test/serving/engine-choice.test.ts's subject, not the docs'.
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ENGINE: 'onnxruntime' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stdout = child.stdout;
  if (!stdout) throw new Error('no stdout from the server');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not listen within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before listening`)));
    createInterface({ input: stdout }).on('line', (line) => {
      const m = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined);
    if (res?.status === 200) return { child, port };
    if (Date.now() > deadline) throw new Error('the server was not ready within 120 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

const OFFLINE = { npm_config_offline: 'true', npm_config_update_notifier: 'false' };

/** A folder holding an `npx` that runs `convnet-serve` as this package's bin and passes anything else on. */
function npxShim(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'docs-examples-'));
  const realNpx = execFileSync('bash', ['-c', 'command -v npx'], { encoding: 'utf8' }).trim();
  const cli = path.join(ROOT, 'dist/src/cli/main.js');
  writeFileSync(
    path.join(dir, 'npx'),
    `#!/usr/bin/env bash\nif [ "$1" = convnet-serve ]; then shift; exec "${process.execPath}" "${cli}" "$@"; fi\nexec "${realNpx}" "$@"\n`,
  );
  chmodSync(path.join(dir, 'npx'), 0o755);
  return dir;
}

function run(
  command: string,
  pathPrefix?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const PATH = pathPrefix ? `${pathPrefix}${path.delimiter}${process.env.PATH}` : process.env.PATH;
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', command], {
      cwd: ROOT,
      env: { ...process.env, ...OFFLINE, PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function compare(output: CodeBlock, stdout: string): string[] {
  if (output.lang === 'text') return compareText(output.content, stdout);
  let actual: unknown;
  try {
    actual = JSON.parse(stdout);
  } catch {
    return [`expected JSON, printed: ${stdout.slice(0, 300)}`];
  }
  const ignore = new Set((output.options.get('ignore') ?? '').split(',').filter(Boolean));
  return compareJson(JSON.parse(output.content), actual, { abridged: output.flags.has('abridged'), ignore });
}

t.test("npx convnet-serve runs this package's own bin, offline", async (t) => {
  const { code, stdout, stderr } = await run('npx convnet-serve analyze seed_5x5');
  t.equal(code, 0, stderr.slice(-1000));
  t.match(stdout, /seed_5x5 {2}input 28x28x192 {2}output 28x28x32/);
  t.match(stdout, /Total MACs: 120,422,400/);
});

t.test('runnable examples', async (t) => {
  const shim = npxShim();
  t.teardown(() => rmSync(shim, { recursive: true, force: true }));
  const { child, port } = await startServer();
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  await t.test('every route of the OpenAPI document is in docs/api.md', async (t) => {
    const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    const api = readFileSync(path.join(ROOT, 'docs/api.md'), 'utf8');
    const paths = Object.keys(doc.paths).map((p) => p.replace(/(.)\/$/, '$1'));
    t.ok(paths.length >= 15, `${paths.length} routes`);
    for (const p of paths) t.ok(api.includes(`${p}\``), `${p} is documented`);
  });
  const byFile = new Map<string, Example[]>();
  for (const e of examples) byFile.set(e.block.file, [...(byFile.get(e.block.file) ?? []), e]);
  for (const [file, list] of byFile) {
    await t.test(file, async (t) => {
      for (const e of list) {
        const name = `${file}:${e.block.line} ${e.command.split('\n')[0].slice(0, 80)}`;
        const command = e.command.replace(DOCUMENTED, `127.0.0.1:${port}`);
        const { code, stdout, stderr } = await run(command, shim);
        if (code !== 0) {
          t.fail(name, { exitCode: code, stderr: stderr.slice(-2000), stdout: stdout.slice(-2000) });
          continue;
        }
        if (!e.output) {
          t.pass(name);
          continue;
        }
        const problems = compare(e.output, stdout);
        t.same(problems, [], name, problems.length ? { printed: stdout.slice(0, 3000) } : {});
      }
    });
  }
});
