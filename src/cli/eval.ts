#!/usr/bin/env node
/**
 * npm run eval: accuracy of the served Fashion-MNIST models on all 10,000 test images, measured
 * through the HTTP API (each image PNG-encoded and sent to POST /classify, 16 per request).
 *   node dist/src/cli/eval.js [--url http://127.0.0.1:3000] [--model fashion-resnet] [--data DIR] [--limit N]
 * Without --url it starts the service in-process on 127.0.0.1 with the default models.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';
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

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      model: { type: 'string', multiple: true },
      data: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const set = readFashionSet(values.data ?? DEFAULT_DATA, 't10k');
  const n = Math.min(values.limit ? Number(values.limit) : set.images.length, set.images.length);
  const pngs = await Promise.all(
    set.images.slice(0, n).map((px) =>
      sharp(Buffer.from(px), { raw: { width: set.cols, height: set.rows, channels: 1 } })
        .png()
        .toBuffer(),
    ),
  );
  let url = values.url;
  let close = async () => {};
  if (!url) {
    const app = await buildApp({ ...loadConfig(), logLevel: 'warn' });
    await app.models.loadAll();
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    close = () => app.close();
  }
  try {
    for (const model of values.model ?? ['fashion-resnet', 'fashion-inception']) {
      const r = await evaluate(url, model, pngs, set.labels);
      console.log(
        JSON.stringify({
          ...r,
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
