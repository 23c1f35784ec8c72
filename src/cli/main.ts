#!/usr/bin/env node
/**
 * convnet-serve command line.
 *   convnet-serve analyze <name|spec.json> [--input H,W,C] [--classes N] [--no-top] [--batch N] [--json]
 *   convnet-serve serve            (same as npm start)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { analyzeTarget, type AnalyzeTarget } from '../analysis/service.js';
import { formatReport } from '../analysis/table.js';
import { AppError } from '../errors.js';
import type { Shape3 } from '../spec/types.js';

const USAGE = `usage:
  convnet-serve analyze <name|spec.json> [--input H,W,C] [--classes N] [--no-top] [--batch N] [--json]
  convnet-serve serve`;

function parseShape(text: string): Shape3 {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1)) {
    throw new AppError(400, 'BAD_ARGUMENT', `--input: expected H,W,C as three positive integers; received ${JSON.stringify(text)}`);
  }
  return parts as Shape3;
}

function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1) throw new AppError(400, 'BAD_ARGUMENT', `${flag}: expected a positive integer; received ${JSON.stringify(text)}`);
  return v;
}

function analyzeCommand(args: string[]): void {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      classes: { type: 'string' },
      'no-top': { type: 'boolean' },
      batch: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new AppError(400, 'BAD_ARGUMENT', `analyze: expected one model name or spec file\n${USAGE}`);
  const what = positionals[0];
  let target: AnalyzeTarget;
  if (what.endsWith('.json')) {
    const spec = JSON.parse(readFileSync(what, 'utf8'));
    target = { spec: values.input ? { ...spec, input: parseShape(values.input) } : spec };
  } else {
    target = {
      model: what,
      input: values.input ? parseShape(values.input) : undefined,
      classes: positive(values.classes, '--classes'),
      includeTop: values['no-top'] ? false : undefined,
    };
  }
  const report = analyzeTarget(target, { batch: positive(values.batch, '--batch') });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'analyze':
      analyzeCommand(rest);
      return;
    case 'serve':
      await import('../server.js');
      return;
    default:
      process.stderr.write(`${USAGE}\n`);
      process.exitCode = command === undefined || command === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`convnet-serve: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
