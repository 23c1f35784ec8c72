/**
 * A model folder's versions, in Triton's layout: `config.json` shared by every version and one folder
 * per version, named by a positive integer, holding that version's weights (and optionally labels).
 * A folder with its weights beside `config.json` and no version folder has one version, 1.
 *
 * Each version gets a fingerprint of its files (path, size, mtime) and of config.json, so a rescan
 * tells a new or changed version from a settled one, and a half-copied one (still changing) from
 * one whose copy has finished.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { VersionPolicy } from './model-config.js';

export interface VersionOnDisk {
  version: number;
  /** Where its weights (and labels, if it has its own) are. */
  dir: string;
  /** Changes whenever one of its files or config.json does. */
  print: string;
}

/** How long a version's files must stay unchanged (the same print at scans this far apart) before it is loaded. */
export const SETTLE_MS = 1000;

/** A version folder's name: a positive integer, without leading zeros (so "01" and "1" cannot both be 1). */
const VERSION_DIR = /^[1-9]\d{0,8}$/;

async function fileStamp(file: string): Promise<string | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s?.isFile() ? `${s.size}:${s.mtimeMs}` : undefined;
}

/** path:size:mtime of every file under `dir` (skipping top-level folders `skip` accepts), hashed. */
async function filesPrint(dir: string, skip: (top: string) => boolean): Promise<string> {
  const names = (await readdir(dir, { recursive: true }).catch(() => [] as string[])).sort();
  const hash = createHash('sha256');
  for (const rel of names) {
    if (skip(rel.split(path.sep)[0]) || rel === 'config.json') continue;
    // A file removed between readdir and stat (a copy being replaced) just leaves the print changed.
    const stamp = await fileStamp(path.join(dir, rel));
    if (stamp) hash.update(`${rel}\0${stamp}\n`);
  }
  return hash.digest('hex');
}

/** The versions on disk of the model in `dir`, lowest first. */
export async function versionsOnDisk(dir: string): Promise<VersionOnDisk[]> {
  const config = (await fileStamp(path.join(dir, 'config.json'))) ?? 'none';
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const numbered: number[] = [];
  for (const e of entries) {
    if (!VERSION_DIR.test(e.name)) continue;
    // stat, not the entry: a version folder may be a symlink (a mounted volume, a fixture).
    const s = await stat(path.join(dir, e.name)).catch(() => undefined);
    if (s?.isDirectory()) numbered.push(Number(e.name));
  }
  if (numbered.length === 0) {
    const print = `${config}/${await filesPrint(dir, (top) => VERSION_DIR.test(top))}`;
    return [{ version: 1, dir, print }];
  }
  numbered.sort((a, b) => a - b);
  return Promise.all(
    numbered.map(async (version) => {
      const versionDir = path.join(dir, String(version));
      return { version, dir: versionDir, print: `${config}/${await filesPrint(versionDir, () => false)}` };
    }),
  );
}

/** The versions the policy serves among those on disk (default: the latest one), lowest first. */
export function selectVersions(policy: VersionPolicy | undefined, available: number[]): number[] {
  const sorted = [...available].sort((a, b) => a - b);
  if (policy === undefined) return sorted.slice(-1);
  if ('all' in policy) return sorted;
  if ('latest' in policy) return sorted.slice(-policy.latest);
  const wanted = new Set(policy.specific);
  return sorted.filter((v) => wanted.has(v));
}
