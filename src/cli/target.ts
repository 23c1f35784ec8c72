/**
 * What the analyze and profile commands read from their arguments: the target (a built-in name, a
 * spec, a Keras/tfjs model JSON or an ONNX file) and positive integers.
 */
import { readFileSync } from 'node:fs';
import type { AnalyzeTarget } from '../services/analysis.js';
import { detectModelFormat } from '../interop/keras/import.js';
import { AppError } from '../errors.js';
import type { Shape3 } from '../spec/types.js';

export function parseShape(text: string): Shape3 {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 1)) {
    throw new AppError(
      400,
      'BAD_ARGUMENT',
      `--input: expected H,W,C as three positive integers; received ${JSON.stringify(text)}`,
    );
  }
  return parts as Shape3;
}

export function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1)
    throw new AppError(
      400,
      'BAD_ARGUMENT',
      `${flag}: expected a positive integer; received ${JSON.stringify(text)}`,
    );
  return v;
}

/** `what` as an analysis target: an ONNX file, a spec or Keras/tfjs JSON file, else a built-in name. */
export function targetOf(
  what: string,
  values: { input?: string; classes?: string; 'no-top'?: boolean },
): AnalyzeTarget {
  let target: AnalyzeTarget;
  if (/\.(onnx|pb)$/i.test(what)) {
    target = {
      onnx: new Uint8Array(readFileSync(what)),
      ...(values.input ? { input: parseShape(values.input) } : {}),
    };
  } else if (what.endsWith('.json')) {
    const json = JSON.parse(readFileSync(what, 'utf8'));
    const input = values.input ? parseShape(values.input) : undefined;
    // A Keras config saved as a JSON string (json.dump(model.to_json())) is decoded once more.
    const decoded = typeof json === 'string' ? JSON.parse(json) : json;
    if (detectModelFormat(decoded) !== 'unknown')
      target = input ? { ...decoded, input } : decoded; // a Keras config or a tfjs model.json
    else target = { spec: input ? { ...json, input } : json };
  } else {
    target = {
      model: what,
      input: values.input ? parseShape(values.input) : undefined,
      classes: positive(values.classes, '--classes'),
      includeTop: values['no-top'] ? false : undefined,
    };
  }
  return target;
}
