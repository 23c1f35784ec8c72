// The version layout and policy: which folders are versions, which ones a policy serves, and
// fingerprints that change while a copy is being written and stay put once it is done.
import t from 'tap';
import { appendFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readModelConfig } from '../../src/serving/model-config.js';
import { selectVersions, versionsOnDisk } from '../../src/serving/versions.js';

t.test('policies select from the versions on disk, whatever order they come in', async (t) => {
  const onDisk = [3, 1, 7, 2];
  t.same(selectVersions(undefined, onDisk), [7], 'default: the latest one');
  t.same(selectVersions({ latest: 1 }, onDisk), [7]);
  t.same(selectVersions({ latest: 2 }, onDisk), [3, 7]);
  t.same(selectVersions({ latest: 10 }, onDisk), [1, 2, 3, 7], 'more than there are: all of them');
  t.same(selectVersions({ all: true }, onDisk), [1, 2, 3, 7]);
  t.same(selectVersions({ specific: [2, 7, 9] }, onDisk), [2, 7], 'a listed version not on disk is skipped');
  t.same(selectVersions({ specific: [9] }, onDisk), []);
  t.same(selectVersions(undefined, []), []);
});

t.test('layout: weights beside config.json are version 1; numbered folders are versions', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'versions-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'config.json'), '{"weights": "w.bin"}');
  await writeFile(path.join(dir, 'w.bin'), 'abc');
  t.same(
    (await versionsOnDisk(dir)).map((v) => [v.version, v.dir]),
    [[1, dir]],
    'flat folder',
  );
  for (const name of ['2', '10', '01', 'abc', '0']) await mkdir(path.join(dir, name));
  await writeFile(path.join(dir, '3'), 'a file named like a version is not one');
  t.same(
    (await versionsOnDisk(dir)).map((v) => [v.version, v.dir]),
    [
      [2, path.join(dir, '2')],
      [10, path.join(dir, '10')],
    ],
    'only positive integers without leading zeros, folders only, sorted by number',
  );
});

t.test('a fingerprint changes with a file being written, with config.json, and not otherwise', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'versions-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'config.json'), '{"weights": "w.bin"}');
  await mkdir(path.join(dir, '1'));
  await mkdir(path.join(dir, '2'));
  await writeFile(path.join(dir, '1', 'w.bin'), 'abc');
  const print = async (v: number) => (await versionsOnDisk(dir)).find((x) => x.version === v)?.print;
  const first = await print(2);
  t.equal(await print(2), first, 'unchanged files, same print');
  await writeFile(path.join(dir, '2', 'w.bin'), 'half');
  const writing = await print(2);
  t.not(writing, first, 'a new file changes it');
  const v1 = await print(1);
  await appendFile(path.join(dir, '2', 'w.bin'), ' and the rest');
  t.not(await print(2), writing, 'a file growing changes it');
  t.equal(await print(1), v1, "another version's print is untouched");
  const later = new Date(Date.now() + 5000);
  await utimes(path.join(dir, 'config.json'), later, later);
  t.not(await print(1), v1, 'config.json is part of every version');
});

t.test('config.json: versionPolicy is checked, with a message naming its three forms', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'versions-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = (policy: unknown) =>
    writeFile(path.join(dir, 'config.json'), JSON.stringify({ weights: 'w.bin', versionPolicy: policy }));
  for (const good of [{ latest: 2 }, { all: true }, { specific: [1, 3] }]) {
    await config(good);
    t.same((await readModelConfig(dir)).versionPolicy, good, JSON.stringify(good));
  }
  for (const bad of [
    { latest: 0 },
    { all: false },
    { specific: [] },
    { specific: [1.5] },
    { newest: 1 },
    'latest',
  ]) {
    await config(bad);
    await t.rejects(
      readModelConfig(dir),
      {
        message: `config.json.versionPolicy: expected {"latest": n}, {"all": true} or {"specific": [n, ...]} with n a positive integer; received ${JSON.stringify(bad)}`,
      },
      JSON.stringify(bad),
    );
  }
});
