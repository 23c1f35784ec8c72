/**
 * What the event loop spends its time on, from a V8 CPU profile (`node --cpu-prof`): each sample's
 * self time is given to the first category its function matches (by script and name), then shares
 * of the busy time are reported, so they can be scaled by an unprofiled run's CPU per image.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  endTime: number;
}

/** The part of the profile to count, as ms before the profile's end: [endsBefore + lengthMs, endsBefore]. */
export interface ProfileWindow {
  lengthMs: number;
  endsBeforeMs: number;
}

/** Categories in the order they are tried; the first match wins. */
const CATEGORIES: [string, (f: CallFrame) => boolean][] = [
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['logging', (f) => /node_modules\/(pino|sonic-boom|thread-stream|pino-std-serializers)\//.test(f.url)],
  ['metrics', (f) => /node_modules\/prom-client\/|plugins\/(metrics|batch-metrics)\.js/.test(f.url)],
  ['multipart', (f) => /node_modules\/(busboy|@fastify\/multipart|streamsearch)\//.test(f.url)],
  ['sharp (JS side)', (f) => /node_modules\/sharp\//.test(f.url)],
  [
    'decode and preprocess (ours)',
    (f) => /src\/(serving\/(preprocess|decode-|image-format)|engines\/pixels)/.test(f.url),
  ],
  [
    'batching and messages',
    (f) =>
      /src\/(serving\/batcher|engines\/(pool|batch-input))\.js|node:internal\/worker|worker_threads/.test(
        f.url,
      ),
  ],
  ['routes and answers (ours)', (f) => /dist\/(routes|src\/plugins|src\/serving\/postprocess)/.test(f.url)],
  [
    'fastify',
    (f) =>
      /node_modules\/(fastify|@fastify|find-my-way|avvio|light-my-request|fast-json-stringify|secure-json-parse)/.test(
        f.url,
      ),
  ],
  [
    'HTTP and sockets',
    (f) => /^node:(_http|http|net|stream|internal\/(streams|stream_base|http|net))/.test(f.url),
  ],
  ['JSON', (f) => f.url === '' && (f.functionName === 'stringify' || f.functionName === 'parse')],
  ['V8 and native, unattributed', (f) => f.functionName === '(program)'],
];

/**
 * Busy time by category within `window` (the load, not start-up or shutdown), as shares of the busy
 * (non-idle) time there.
 */
export function eventLoopShares(profileFile: string, window: ProfileWindow): Record<string, number> {
  const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const time = new Map<string, number>();
  const to = profile.endTime - window.endsBeforeMs * 1000; // the profile counts in microseconds
  const from = to - window.lengthMs * 1000;
  let at = profile.endTime - profile.timeDeltas.reduce((a, b) => a + b, 0);
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    const frame = frames.get(id);
    if (at < from || at > to || !frame || frame.functionName === '(idle)') return;
    const category = CATEGORIES.find(([, match]) => match(frame))?.[0] ?? 'other JS';
    time.set(category, (time.get(category) ?? 0) + dt);
    busy += dt;
  });
  return Object.fromEntries([...time].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / (busy || 1)]));
}
