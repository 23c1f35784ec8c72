/**
 * npm run bench:lifecycle — load/unload cycles of resnet50_tv (random weights, 102 MB) through the
 * repository API of the built server (MODEL_CONTROL=explicit), to show that unloading gives its
 * memory back: resident memory and the workers' tfjs tensor count after the first load, after each
 * cycle, and once unloaded. Figures only, no pass/fail.
 * Usage: npm run bench:lifecycle [-- --cycles 20 --engine tfjs|onnxruntime|auto --workers 2]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ZOO } from '../models/index.js';
import { defined } from '../src/invariant.js';
import { normalizeSpec } from '../src/spec/normalize.js';
import { inferShapes } from '../src/spec/shapes.js';
import { writeSafetensors } from '../src/weights/safetensors.js';
import { randomWeights } from './lib/random.js';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '20' },
    engine: { type: 'string', default: 'tfjs' },
    workers: { type: 'string', default: '2' },
  },
});
const cycles = Number(values.cycles);
const MODEL = 'resnet50_tv';

const repo = mkdtempSync(path.join(tmpdir(), 'lifecycle-bench-'));
const graph = normalizeSpec(defined(ZOO.get(MODEL), MODEL).build());
mkdirSync(path.join(repo, MODEL));
writeFileSync(
  path.join(repo, MODEL, 'weights.safetensors'),
  writeSafetensors(
    randomWeights(inferShapes(graph), 7).map((w) => [
      `${w.layer}/${w.weight}`,
      { shape: w.shape, data: w.data },
    ]),
  ),
);
writeFileSync(
  path.join(repo, MODEL, 'config.json'),
  JSON.stringify({ architecture: MODEL, weights: 'weights.safetensors', preprocess: 'torch' }),
);

const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const address = probe.address();
    probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
  });
});
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.execPath, ['dist/src/server.js'], {
  env: {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    MODELS_DIR: repo,
    MODEL_CONTROL: 'explicit',
    ENGINE: values.engine,
    WORKERS: values.workers,
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});

/** Resident memory (MB) and tfjs tensors summed over the workers, from /metrics. */
async function sample(): Promise<{ rssMb: number; tensors: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const sum = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
      .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { rssMb: sum('process_resident_memory_bytes') / 2 ** 20, tensors: sum('tfjs_tensors') };
}

async function call(action: 'load' | 'unload'): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v2/repository/models/${MODEL}/${action}`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`${action}: ${res.status} ${await res.text()}`);
  return performance.now() - t0;
}

try {
  for (;;) {
    const ready = await fetch(`${base}/health/ready`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (server.exitCode !== null) throw new Error('the server exited');
    await new Promise((r) => setTimeout(r, 200));
  }
  const first = await sample();
  console.log(
    `${MODEL}, ENGINE=${values.engine}, WORKERS=${values.workers}: loaded: ${first.rssMb.toFixed(1)} MB resident, ${first.tensors} tfjs tensors`,
  );
  const times: number[] = [];
  // The first cycle grows heaps that later ones reuse: the figures are given from both points.
  let warm = first;
  for (let i = 1; i <= cycles; i++) {
    const unloadMs = await call('unload');
    const loadMs = await call('load');
    times.push(unloadMs + loadMs);
    const now = await sample();
    if (i === 1) warm = now;
    console.log(
      `cycle ${String(i).padStart(2)}: unload ${unloadMs.toFixed(0)} ms, load ${loadMs.toFixed(0)} ms; ${now.rssMb.toFixed(1)} MB (${(now.rssMb - first.rssMb).toFixed(1)}), ${now.tensors} tensors`,
    );
  }
  const last = await sample();
  await call('unload');
  const empty = await sample();
  console.log(
    `after ${cycles} cycles: ${last.rssMb.toFixed(1)} MB resident (${(last.rssMb - first.rssMb).toFixed(1)} MB from the first load, ${(last.rssMb - warm.rssMb).toFixed(1)} MB from the end of the first cycle), ${last.tensors} tfjs tensors (${first.tensors} after the first load); unloaded: ${empty.rssMb.toFixed(1)} MB, ${empty.tensors} tensors; median cycle ${times.sort((a, b) => a - b)[Math.floor(times.length / 2)].toFixed(0)} ms`,
  );
} finally {
  server.kill('SIGTERM');
  rmSync(repo, { recursive: true, force: true });
}
