// Tests mirror the code they exercise: test/<folder>/ exists because src/<folder>/ does (or
// routes/<folder>/, models/<folder>/), so a test is found where its module is. A few folders test
// what has no source folder of its own; they are listed here with the reason.
import t from 'tap';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** test/ folders with no source folder to mirror. */
const ALLOWED: Record<string, string> = {
  deploy: 'Dockerfile, compose files and manifests',
  ui: 'the web page in public/',
  server: 'src/server.ts, the process that listens',
  helpers: 'shared test helpers',
  fixtures: 'test data, written by scripts/reference',
  docs: 'the examples in README and docs/',
};

/** The source folder a test folder mirrors: routes/ and models/ for their own, src/ for the rest. */
function mirrored(dir: string): string {
  const [top] = dir.split('/');
  return top === 'routes' || top === 'models' ? dir : `src/${dir}`;
}

/** Files (paths relative to the repo, `test/...`) whose folder neither mirrors a source folder nor is allowed. */
function misplaced(files: string[], folderExists: (rel: string) => boolean): string[] {
  return files.filter((file) => {
    const dir = path.posix.dirname(path.posix.relative('test', file));
    if (dir === '.') return false;
    if (Object.hasOwn(ALLOWED, dir.split('/')[0])) return false;
    return !folderExists(mirrored(dir));
  });
}

const isFolder = (rel: string) =>
  existsSync(path.join(root, rel)) && statSync(path.join(root, rel)).isDirectory();
const testFiles = (readdirSync(path.join(root, 'test'), { recursive: true }) as string[])
  .map((rel) => `test/${rel.split(path.sep).join('/')}`)
  .filter((rel) => !rel.startsWith('test/fixtures/') && statSync(path.join(root, rel)).isFile());

t.test('every test folder mirrors a source folder or is one of the allowed few', async (t) => {
  t.same(misplaced(testFiles, isFolder), [], 'no test sits in a folder without its source folder');
  const tests = testFiles.filter((f) => f.endsWith('.test.ts'));
  t.ok(
    tests.length > 40,
    `${tests.length} test files and ${testFiles.length - tests.length} helpers checked`,
  );
});

t.test('the rule refuses a folder with no source and accepts the mirrored ones', async (t) => {
  const sample = [
    'test/layering.test.ts',
    'test/spec/normalize.test.ts',
    'test/engines/tfjs/parity.test.ts',
    'test/interop/keras/import.test.ts',
    'test/routes/wire.test.ts',
    'test/routes/classify/upload.test.ts',
    'test/models/golden.test.ts',
    'test/deploy/manifests.test.ts',
    'test/docs/examples.test.ts',
    'test/helpers/app.ts',
    'test/engine/parity.test.ts',
    'test/importers/keras.test.ts',
    'test/interop/tflite/read.test.ts',
    'test/routes/nowhere/x.test.ts',
  ];
  t.same(misplaced(sample, isFolder), [
    'test/engine/parity.test.ts',
    'test/importers/keras.test.ts',
    'test/interop/tflite/read.test.ts',
    'test/routes/nowhere/x.test.ts',
  ]);
});
