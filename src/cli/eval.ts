#!/usr/bin/env node
/**
 * npm run eval: accuracy of the served Fashion-MNIST models on all 10,000 test images, measured
 * through the HTTP API (each image PNG-encoded and sent to POST /classify, 16 per request).
 *   node dist/src/cli/eval.js [--url http://127.0.0.1:3000] [--model fashion-resnet] [--data DIR] [--limit N]
 *                             [--precision fp32|bf16|int8]
 * Without --url it starts the service in-process on 127.0.0.1 with the default models, at
 * --precision (default: PRECISION, else fp32); with --url, --precision checks what is served.
 * Each line also gives the precision served and, below fp32, the load-time check against fp32 on
 * the model's calibration images; a model refused at that precision prints its reason instead.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
import { PRECISIONS, type Precision } from '../engines/types.js';
import { readFashionSet } from './fashion-data.js';

const DEFAULT_DATA = fileURLToPath(new URL('../../../test/fixtures/fashion/', import.meta.url));
const PER_REQUEST = 16;
const CONCURRENCY = 4;

async function evaluate(url: string, model: string, pngs: Buffer[], labels: Uint8Array) {
  let correct = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const start = next;
      next += PER_REQUEST;
      if (start >= pngs.length) return;
      const chunk = pngs.slice(start, start + PER_REQUEST);
      const res = await fetch(`${url}/classify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          topk: 1,
          images: chunk.map((b, i) => ({ b64: b.toString('base64'), name: String(start + i) })),
        }),
      });
      if (res.status !== 200) throw new Error(`${model}: HTTP ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { results: { predictions: { index: number }[] }[] };
      body.results.forEach((r, i) => {
        if (r.predictions[0].index === labels[start + i]) correct++;
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    model,
    images: pngs.length,
    correct,
    accuracy: correct / pngs.length,
    seconds,
    imagesPerSecond: pngs.length / seconds,
  };
}

/** What the service says of the model: its state, precision and engine. */
async function describe(url: string, model: string) {
  const res = await fetch(`${url}/models/${encodeURIComponent(model)}`);
  if (res.status !== 200) throw new Error(`${model}: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as {
    state: string;
    error?: string;
    precision: Precision | null;
    engine: string;
    precisionCheck: unknown;
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      model: { type: 'string', multiple: true },
      data: { type: 'string' },
      limit: { type: 'string' },
      precision: { type: 'string' },
    },
  });
  const precision = values.precision as Precision | undefined;
  if (precision !== undefined && !PRECISIONS.includes(precision))
    throw new Error(
      `--precision: expected one of ${PRECISIONS.join(', ')}; received ${JSON.stringify(precision)}`,
    );
  const set = readFashionSet(values.data ?? DEFAULT_DATA, 't10k');
  const n = Math.min(values.limit ? Number(values.limit) : set.images.length, set.images.length);
  const pngs = await Promise.all(
    set.images.slice(0, n).map((px) =>
      // Grey PNGs, as the images are: without toColourspace, libvips would write them as RGB.
      sharp(Buffer.from(px), { raw: { width: set.cols, height: set.rows, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toBuffer(),
    ),
  );
  let url = values.url;
  let close = async () => {};
  if (!url) {
    const config = loadConfig();
    const app = await buildApp({ ...config, precision: precision ?? config.precision, logLevel: 'silent' });
    await app.models.loadAll();
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    close = () => app.close();
  }
  try {
    for (const model of values.model ?? ['fashion-resnet', 'fashion-inception']) {
      const served = await describe(url, model);
      if (precision && served.precision !== precision)
        throw new Error(
          `${model} is served at ${served.precision}, not the --precision ${precision} asked for`,
        );
      if (served.state !== 'ready') {
        console.log(
          JSON.stringify({ model, precision: served.precision, state: served.state, error: served.error }),
        );
        continue;
      }
      const r = await evaluate(url, model, pngs, set.labels);
      console.log(
        JSON.stringify({
          ...r,
          precision: served.precision,
          engine: served.engine,
          ...(served.precisionCheck ? { precisionCheck: served.precisionCheck } : {}),
          accuracy: Number(r.accuracy.toFixed(4)),
          seconds: Number(r.seconds.toFixed(1)),
          imagesPerSecond: Number(r.imagesPerSecond.toFixed(1)),
        }),
      );
    }
  } finally {
    await close();
  }
}

main().catch((err) => {
  console.error(`eval: ${(err as Error).message}`);
  process.exit(1);
});
