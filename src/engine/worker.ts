/**
 * An inference worker thread: it owns a tfjs backend (and ONNX sessions) and the engines of the
 * models it was asked to load, so inference never blocks the main thread's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { inferShapes } from '../analysis/shapes.js';
import { bindWeights } from '../weights/bind.js';
import { readWeightFile } from '../weights/load.js';
import { WeightsError } from '../weights/types.js';
import { initBackend } from './backend.js';
import { TfjsEngine } from './tfjs-engine.js';
import type { InferenceEngine, ModelPlan, WorkerInit, WorkerReply, WorkerRequest } from './types.js';

const init = workerData as WorkerInit;
const engines = new Map<string, InferenceEngine>();
const port = parentPort!;
const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

async function load(plan: ModelPlan): Promise<{ keyStyle: string; format: string }> {
  const file = await readWeightFile(plan.weightsPath);
  const { bound, keyStyle } = bindWeights(inferShapes(plan.graph), file.tensors);
  let engine: InferenceEngine;
  if (plan.engine !== 'tfjs') throw new Error(`engine ${plan.engine} is not available in this build`);
  engine = TfjsEngine.create(plan.graph, bound);
  engines.get(plan.name)?.dispose();
  engines.set(plan.name, engine);
  return { keyStyle, format: file.format };
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
        const logits = await engine.infer(msg.input, msg.n);
        const out = logits.buffer.byteLength === logits.byteLength ? logits : logits.slice();
        reply({ type: 'result', id: msg.id, ok: true, value: out }, [out.buffer as ArrayBuffer]);
        return;
      }
      case 'unload':
        engines.get(msg.model)?.dispose();
        engines.delete(msg.model);
        reply({ type: 'result', id: msg.id, ok: true, value: null });
        return;
      case 'memory': {
        const m = tf.memory();
        reply({ type: 'result', id: msg.id, ok: true, value: { numTensors: m.numTensors, numBytes: m.numBytes } });
        return;
      }
    }
  } catch (err) {
    const problems = err instanceof WeightsError ? err.problems : undefined;
    reply({ type: 'result', id: msg.id, ok: false, error: (err as Error).message, problems });
  }
}

const backend = await initBackend(init.backend);
port.on('message', (msg: WorkerRequest) => void handle(msg));
reply({ type: 'ready', backend });
