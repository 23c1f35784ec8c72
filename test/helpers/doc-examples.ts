/**
 * Reads the runnable examples out of Markdown and compares what a command printed with the output a
 * document shows. The marking convention is described in test/docs/examples.test.ts and examples/README.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A fenced code block: its info string split into the language, flags and key=value options. */
export interface CodeBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  flags: Set<string>;
  options: Map<string, string>;
  content: string;
  /** The Markdown between the end of the previous block and this one's opening fence. */
  before: string;
}

export interface Example {
  block: CodeBlock;
  command: string;
  /** The output block shown right after the command, if any. */
  output?: CodeBlock;
}

const FENCE = /^(\s*)(```+)(.*)$/;

export function codeBlocks(markdown: string, file: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let prose: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) {
      prose.push(lines[i]);
      continue;
    }
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = FENCE.exec(lines[j]);
      if (close && close[2].length >= fence.length && close[3].trim() === '') break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j].trimStart());
    }
    if (j === lines.length) throw new Error(`${file}:${i + 1}: code block never closed`);
    const [lang = '', ...words] = info.trim().split(/\s+/).filter(Boolean);
    const flags = new Set<string>();
    const options = new Map<string, string>();
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq > 0) options.set(w.slice(0, eq), w.slice(eq + 1));
      else flags.add(w);
    }
    blocks.push({
      file,
      line: i + 1,
      lang,
      flags,
      options,
      content: body.join('\n'),
      before: prose.join('\n'),
    });
    prose = [];
    i = j;
  }
  return blocks;
}

/** `sh runnable` blocks, each with the `json output` or `text output` block that directly follows it. */
export function runnableExamples(blocks: CodeBlock[]): Example[] {
  const examples: Example[] = [];
  blocks.forEach((block, i) => {
    if (block.flags.has('output')) {
      const previous = blocks[i - 1];
      if (!previous?.flags.has('runnable') || block.before.trim() !== '')
        throw new Error(`${block.file}:${block.line}: an output block must directly follow a runnable block`);
      if (block.lang !== 'json' && block.lang !== 'text')
        throw new Error(`${block.file}:${block.line}: output blocks are json or text; got ${block.lang}`);
    }
    if (!block.flags.has('runnable')) return;
    if (block.lang !== 'sh') throw new Error(`${block.file}:${block.line}: runnable blocks are sh`);
    const next = blocks[i + 1];
    const output = next?.flags.has('output') && next.before.trim() === '' ? next : undefined;
    examples.push({ block, command: block.content, output });
  });
  return examples;
}

/** README.md, then every Markdown file under docs/ and examples/, in a stable order. */
export function docFiles(root: string): string[] {
  const under = (dir: string): string[] =>
    readdirSync(path.join(root, dir), { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? under(path.join(dir, e.name)) : [path.join(dir, e.name)]))
      .filter((f) => f.endsWith('.md'))
      .sort();
  return ['README.md', ...under('docs'), ...under('examples')];
}

export function blocksOf(root: string, file: string): CodeBlock[] {
  return codeBlocks(readFileSync(path.join(root, file), 'utf8'), file);
}

export interface JsonCompare {
  /** Objects may leave keys out and arrays may show only their first elements. */
  abridged: boolean;
  /** Keys not compared wherever they appear (timings, ids). */
  ignore: Set<string>;
}

/** Relative tolerance for numbers with a fractional part (probabilities, ratios); integers are exact. */
const TOLERANCE = 0.005;

function sameNumber(expected: number, actual: number): boolean {
  if (Number.isInteger(expected) && Number.isInteger(actual)) return expected === actual;
  return Math.abs(expected - actual) <= TOLERANCE * Math.max(1, Math.abs(expected));
}

/** The differences between the JSON a document shows and the JSON a command printed, by path. */
export function compareJson(expected: unknown, actual: unknown, how: JsonCompare, at = '$'): string[] {
  const show = (v: unknown) => JSON.stringify(v)?.slice(0, 120);
  if (typeof expected === 'number' && typeof actual === 'number')
    return sameNumber(expected, actual) ? [] : [`${at}: expected ${expected}, received ${actual}`];
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected an array, received ${show(actual)}`];
    const lengthOk = how.abridged ? actual.length >= expected.length : actual.length === expected.length;
    if (!lengthOk)
      return [`${at}: expected ${expected.length} elements, received ${actual.length}: ${show(actual)}`];
    return expected.flatMap((e, i) => compareJson(e, actual[i], how, `${at}[${i}]`));
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return [`${at}: expected an object, received ${show(actual)}`];
    const e = expected as Record<string, unknown>;
    const a = actual as Record<string, unknown>;
    const problems: string[] = [];
    for (const key of Object.keys(e)) {
      if (how.ignore.has(key)) continue;
      if (!Object.hasOwn(a, key)) problems.push(`${at}.${key}: missing from the answer`);
      else problems.push(...compareJson(e[key], a[key], how, `${at}.${key}`));
    }
    if (!how.abridged) {
      for (const key of Object.keys(a))
        if (!Object.hasOwn(e, key) && !how.ignore.has(key))
          problems.push(`${at}.${key}: in the answer but not shown (mark the block abridged, or show it)`);
    }
    return problems;
  }
  return Object.is(expected, actual) ? [] : [`${at}: expected ${show(expected)}, received ${show(actual)}`];
}

const NUMBER = /^[-+]?[\d,]*\.?\d+%?$/;

function sameToken(expected: string, actual: string): boolean {
  if (expected === actual) return true;
  if (!NUMBER.test(expected) || !NUMBER.test(actual)) return false;
  if (expected.endsWith('%') !== actual.endsWith('%')) return false;
  const value = (s: string) => Number(s.replace(/[,%]/g, ''));
  return sameNumber(value(expected), value(actual));
}

function sameLine(expected: string, actual: string): boolean {
  const e = expected.trim().split(/\s+/);
  const a = actual.trim().split(/\s+/);
  return e.length === a.length && e.every((token, i) => sameToken(token, a[i]));
}

/**
 * The differences between text a document shows and text a command printed. Lines compare token by
 * token (runs of spaces are one separator; numbers with a fractional part within the tolerance); a
 * line that is only `...` stands for any number of lines.
 */
export function compareText(expected: string, actual: string): string[] {
  const want = expected.replace(/\s+$/, '').split('\n');
  const got = actual.replace(/\s+$/, '').split('\n');
  const match = (w: number, g: number): boolean => {
    if (w === want.length) return g === got.length;
    if (want[w].trim() === '...') {
      for (let skip = g; skip <= got.length; skip++) if (match(w + 1, skip)) return true;
      return false;
    }
    return g < got.length && sameLine(want[w], got[g]) && match(w + 1, g + 1);
  };
  if (match(0, 0)) return [];
  // Name the first shown line that has no counterpart, for the failure message.
  let g = 0;
  for (const line of want) {
    if (line.trim() === '...') continue;
    const found = got.findIndex((l, i) => i >= g && sameLine(line, l));
    if (found < 0) return [`shown line not printed (in order): ${JSON.stringify(line)}`];
    g = found + 1;
  }
  return ['the printed lines differ in number from the shown ones (a missing "..."?)'];
}
