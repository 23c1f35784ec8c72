/**
 * An inference worker thread: it owns a tfjs backend (and ONNX sessions) and the engines of the
 * models it was asked to load, so inference never blocks the main thread's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { inferShapes } from '../spec/shapes.js';
import { bindWeights } from '../weights/bind.js';
import { readModelWeights } from '../interop/model-files.js';
import { WeightsError } from '../weights/types.js';
import { initBackend } from './tfjs/backend.js';
import { ENGINES } from './table.js';
import { buildOnnxModel } from '../interop/onnx/emit.js';
import type {
  EngineTiming,
  InferenceEngine,
  LoadResult,
  ModelPlan,
  WorkerInit,
  WorkerReply,
  WorkerRequest,
} from './types.js';
import { defined } from '../invariant.js';
import { yieldThreadPriority } from '../thread-priority.js';
import { Explainers } from './explainers.js';
import { batchInput } from './batch-input.js';

const init = workerData as WorkerInit;
// First, so that the compute threads ONNX Runtime and tfjs create from this thread inherit it.
const priority = yieldThreadPriority(init.nice);
const engines = new Map<string, InferenceEngine>();
const explainers = new Explainers();
const port = defined(parentPort, 'the parent port (this module runs in a worker thread)');
const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function load(plan: ModelPlan): Promise<LoadResult> {
  const file = await readModelWeights(plan.weightsPath);
  const { bound, keyStyle } = bindWeights(inferShapes(plan.graph), file.tensors);
  // What an int8 build hands back (its figures, its model for the other workers) is not kept here.
  const { engine, figures, onnx } = await ENGINES[plan.engine](
    plan.graph,
    bound,
    plan.threads === undefined ? init : { ...init, onnxThreads: plan.threads },
    plan,
  );
  engines.get(plan.name)?.dispose();
  engines.set(plan.name, engine);
  // Grad-CAM builds an fp32 tfjs copy from the graph and weights: the calibration images and int8 bytes stay out.
  explainers.remember({ ...plan, calibration: undefined, onnx: undefined });
  return { keyStyle, format: file.format, ...(figures ? { figures } : {}), ...(onnx ? { onnx } : {}) };
}

async function handle(msg: WorkerRequest): Promise<void> {
  try {
    switch (msg.type) {
      case 'load':
        reply({ type: 'result', id: msg.id, ok: true, value: await load(msg.plan) });
        return;
      case 'infer': {
        const engine = engines.get(msg.model);
        if (!engine) throw new Error(`model ${msg.model} is not loaded in this worker`);
        // Pixel images are normalised here, straight into the engine's input.
        const logits = await engine.infer(batchInput(msg.batch), msg.batch.n);
        const out = logits.buffer.byteLength === logits.byteLength ? logits : logits.slice();
        reply({ type: 'result', id: msg.id, ok: true, value: out }, [out.buffer as ArrayBuffer]);
        return;
      }
      case 'export-onnx': {
        // Built here, off the main thread: a ResNet-50 graph is ~100 MB of protobuf.
        const file = await readModelWeights(msg.plan.weightsPath);
        const { bound } = bindWeights(inferShapes(msg.plan.graph), file.tensors);
        const bytes = buildOnnxModel(msg.plan.graph, bound, { logits: false, inPlace: true });
        const out =
          bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
        reply({ type: 'result', id: msg.id, ok: true, value: out }, [out.buffer as ArrayBuffer]);
        return;
      }
      case 'time': {
        const engine = engines.get(msg.model);
        if (!engine) throw new Error(`model ${msg.model} is not loaded in this worker`);
        const times: number[] = [];
        const limit = msg.stopAboveMs ?? Number.POSITIVE_INFINITY;
        for (let i = 0; i < msg.runs; i++) {
          const t0 = performance.now();
          await engine.infer(msg.input.slice(), msg.n);
          times.push(performance.now() - t0);
          if (times.length === 2 && times.every((ms) => ms > limit)) break;
        }
        times.sort((a, b) => a - b);
        const timing: EngineTiming = { medianMs: times[Math.floor(times.length / 2)], runs: times.length };
        reply({ type: 'result', id: msg.id, ok: true, value: timing });
        return;
      }
      case 'explain': {
        const out = await explainers.explain(msg.model, msg.input, msg.n);
        reply({ type: 'result', id: msg.id, ok: true, value: out }, [out.buffer as ArrayBuffer]);
        return;
      }
      case 'unload':
        engines.get(msg.model)?.dispose();
        engines.delete(msg.model);
        explainers.forget(msg.model);
        reply({ type: 'result', id: msg.id, ok: true, value: null });
        return;
      case 'memory': {
        const m = tf.memory();
        reply({
          type: 'result',
          id: msg.id,
          ok: true,
          value: { numTensors: m.numTensors, numBytes: m.numBytes },
        });
        return;
      }
    }
  } catch (err) {
    const problems = err instanceof WeightsError ? err.problems : undefined;
    reply({ type: 'result', id: msg.id, ok: false, error: (err as Error).message, problems });
  }
}

const backend = await initBackend(init.backend, init.wasmThreads);
port.on('message', (msg: WorkerRequest) => void handle(msg));
reply({ type: 'ready', backend, priority });
