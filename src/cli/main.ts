#!/usr/bin/env node
/**
 * convnet-serve command line.
 *   convnet-serve analyze <name|spec.json|model.json|model.onnx> [--input H,W,C] [--classes N] [--no-top] [--batch N] [--training sgd|momentum|adam] [--json]
 *   convnet-serve profile <name|spec.json|…> [--engine tfjs|onnxruntime|both] [--runs N] [--weights FILE] [--json]
 *   convnet-serve serve            (same as npm start)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeTarget, graphFor, type AnalyzeTarget } from '../services/analysis.js';
import { formatReport } from '../analysis/table.js';
import { OPTIMIZERS, type Optimizer } from '../analysis/training.js';
import { AppError } from '../errors.js';
import { mapAsText } from './explain-text.js';
import { positive, targetOf } from './target.js';

const USAGE = `usage:
  convnet-serve analyze <name|spec.json|model.json|model.onnx> [--input H,W,C] [--classes N] [--no-top] [--batch N] [--training sgd|momentum|adam] [--json]
  convnet-serve classify <image> [--model NAME] [--models-dir DIR] [--topk K] [--json]
                         [--explain [--explain-layer NAME] [--explain-class N] [--overlay FILE.png]]
  convnet-serve profile <name|spec.json|model.json|model.onnx> [--engine tfjs|onnxruntime|both] [--runs N] [--batch N] [--input H,W,C] [--weights FILE] [--threads N] [--json]
  convnet-serve export <name|spec.json> --format onnx|tfjs [--weights FILE] --out FILE|DIR
  convnet-serve serve`;

function analyzeCommand(args: string[]): void {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      classes: { type: 'string' },
      'no-top': { type: 'boolean' },
      batch: { type: 'string' },
      training: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1)
    throw new AppError(400, 'BAD_ARGUMENT', `analyze: expected one model name or spec file\n${USAGE}`);
  const target = targetOf(positionals[0], values);
  const optimizer = values.training;
  if (optimizer !== undefined && !(OPTIMIZERS as readonly string[]).includes(optimizer)) {
    throw new AppError(
      400,
      'BAD_ARGUMENT',
      `--training: expected one of ${OPTIMIZERS.join(', ')}; received ${JSON.stringify(optimizer)}`,
    );
  }
  const report = analyzeTarget(target, {
    batch: positive(values.batch, '--batch'),
    training: optimizer === undefined ? undefined : { optimizer: optimizer as Optimizer },
  });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
}

/** Classifies one image in-process (no server): the app is built and asked through inject. */
async function classifyCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      'models-dir': { type: 'string' },
      topk: { type: 'string' },
      json: { type: 'boolean' },
      explain: { type: 'boolean' },
      'explain-layer': { type: 'string' },
      'explain-class': { type: 'string' },
      overlay: { type: 'string' },
    },
  });
  if (positionals.length !== 1)
    throw new AppError(400, 'BAD_ARGUMENT', `classify: expected one image file\n${USAGE}`);
  // The layer, class and overlay only mean something with --explain; the service says so for the first two.
  if (values.overlay && !values.explain)
    throw new AppError(
      400,
      'BAD_ARGUMENT',
      '--overlay: expected --explain with it (the overlay is of the explanation)',
    );
  const explain = {
    ...(values.explain ? { explain: 'gradcam' } : {}),
    ...(values['explain-layer'] ? { explainLayer: values['explain-layer'] } : {}),
    ...(values['explain-class'] ? { explainClass: values['explain-class'] } : {}),
  };
  const { buildApp } = await import('../app.js');
  const { loadConfig } = await import('../config.js');
  const base = loadConfig();
  const model = values.model ?? base.defaultModel;
  const app = await buildApp({
    ...base,
    logLevel: 'error',
    workers: 1,
    // One classification: timing both engines first (ENGINE=auto) would cost more than it saves, so
    // ONNX Runtime serves unless ENGINE says otherwise.
    engine: process.env.ENGINE ? base.engine : 'onnxruntime',
    // One classification, then exit: nothing to watch.
    modelControl: 'none',
    modelsDir: values['models-dir'] ? path.resolve(values['models-dir']) : base.modelsDir,
    onlyModels: model ? [model] : base.onlyModels,
  });
  try {
    await app.models.loadAll();
    const res = await app.inject({
      method: 'POST',
      url: '/classify',
      query: { ...(model ? { model } : {}), ...(values.topk ? { topk: values.topk } : {}), ...explain },
      headers: { 'content-type': 'application/octet-stream' },
      payload: readFileSync(positionals[0]),
    });
    const body = res.json();
    if (res.statusCode !== 200)
      throw new AppError(res.statusCode, body.code ?? 'ERROR', body.message ?? res.body);
    // The service names a raw body "body"; here the image has a name, the one given.
    for (const r of body.results) r.file = positionals[0];
    const explanation = body.results[0].explanation;
    if (values.overlay && explanation)
      writeFileSync(values.overlay, Buffer.from(explanation.overlay.replace(/^data:[^,]*,/, ''), 'base64'));
    if (values.json) {
      process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    } else {
      process.stdout.write(`${positionals[0]} (model ${body.model}, backend ${body.backend})\n`);
      for (const p of body.results[0].predictions)
        process.stdout.write(`  ${(100 * p.probability).toFixed(2).padStart(6)}%  ${p.label}\n`);
      if (explanation) {
        process.stdout.write(
          `Grad-CAM at ${explanation.layer} for ${explanation.label} (class ${explanation.class}), ${explanation.map.height}x${explanation.map.width}:\n`,
        );
        process.stdout.write(mapAsText(explanation.map));
      }
    }
  } finally {
    await app.close();
  }
}

/**
 * Exports an architecture: `tfjs` writes a layers-model model.json topology, and with --weights its
 * weight shards beside it (a folder tf.loadLayersModel reads); `onnx` writes an ONNX graph with the
 * weights from --weights (any format we load). --out's folder is created when missing.
 */
async function exportCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { format: { type: 'string' }, weights: { type: 'string' }, out: { type: 'string' } },
  });
  if (positionals.length !== 1 || !values.out || (values.format !== 'onnx' && values.format !== 'tfjs')) {
    throw new AppError(
      400,
      'BAD_ARGUMENT',
      `export: expected <name|spec.json> --format onnx|tfjs --out FILE\n${USAGE}`,
    );
  }
  const what = positionals[0];
  const target: AnalyzeTarget = what.endsWith('.json')
    ? { spec: JSON.parse(readFileSync(what, 'utf8')) }
    : { model: what };
  const graph = graphFor(target);
  const bind = async (file: string) => {
    const [{ readModelWeights }, { bindWeights }, { inferShapes }] = await Promise.all([
      import('../interop/model-files.js'),
      import('../weights/bind.js'),
      import('../spec/shapes.js'),
    ]);
    return bindWeights(inferShapes(graph), (await readModelWeights(file)).tensors).bound;
  };
  mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  const written: string[] = [];
  if (values.format === 'tfjs') {
    const { tfjsArtifacts, tfjsModelJsonFromGraph } = await import('../interop/keras/export.js');
    if (!values.weights) {
      writeFileSync(values.out, JSON.stringify(tfjsModelJsonFromGraph(graph), null, 1));
      written.push(values.out);
    } else {
      // With weights: a folder (or a model.json path) holding model.json and its shards.
      const modelJson = values.out.endsWith('.json') ? values.out : path.join(values.out, 'model.json');
      mkdirSync(path.dirname(path.resolve(modelJson)), { recursive: true });
      const { modelJson: doc, shards } = tfjsArtifacts(graph, await bind(values.weights));
      writeFileSync(modelJson, JSON.stringify(doc));
      written.push(modelJson);
      for (const shard of shards) {
        const file = path.join(path.dirname(modelJson), shard.path);
        writeFileSync(file, shard.data);
        written.push(file);
      }
    }
  } else {
    if (!values.weights)
      throw new AppError(
        400,
        'BAD_ARGUMENT',
        'export --format onnx: expected --weights FILE (safetensors, tfjs model.json, Keras H5 or ONNX)',
      );
    const { buildOnnxModel } = await import('../interop/onnx/emit.js');
    writeFileSync(values.out, buildOnnxModel(graph, await bind(values.weights)));
    written.push(values.out);
  }
  process.stdout.write(written.map((f) => `wrote ${f}\n`).join(''));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'analyze':
      analyzeCommand(rest);
      return;
    case 'export':
      await exportCommand(rest);
      return;
    case 'classify':
      await classifyCommand(rest);
      return;
    case 'profile': {
      // Loaded only for this command: it brings both engines, which analyze does not need.
      const { profileCommand } = await import('./profile.js');
      await profileCommand(rest, USAGE);
      return;
    }
    case 'serve':
      await import('../server.js');
      return;
    default: {
      // Asked for (no command, --help): the usage is the answer, on stdout. Otherwise it is an error.
      const asked = command === undefined || command === '--help' || command === '-h';
      (asked ? process.stdout : process.stderr).write(`${USAGE}\n`);
      process.exitCode = asked ? 0 : 2;
    }
  }
}

// A reader that stops early (`| head`) closes the pipe: that ends the output, it is not a failure.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`convnet-serve: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
