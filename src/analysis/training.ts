/**
 * Training costs before training: the memory one training step holds (weights, gradients,
 * optimizer state, and the activations kept for the backward pass) and the MACs it computes.
 * Each kind says what it keeps (its rule's `saves`, after PyTorch's autograd); a tensor several
 * layers keep counts once. Conventions: CONVENTIONS.training.
 */
import { INPUT_NAME } from '../spec/types.js';
import { elements } from '../spec/kinds/shared.js';
import { exact } from '../spec/exact.js';
import { ruleFor, type ShapedGraph, where } from '../spec/shapes.js';
import { lookup } from '../invariant.js';
import { BYTES_PER_ELEMENT } from './memory.js';
import type { LayerRow, TrainingReport } from './report-types.js';

export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type Optimizer = (typeof OPTIMIZERS)[number];

export interface TrainingOptions {
  batch: number;
  optimizer: Optimizer;
}

/** Float32 state per trainable parameter, and per trainable tensor (Adam's step counter). */
const OPTIMIZER_STATE: Record<Optimizer, { perParameter: number; perTensor: number }> = {
  sgd: { perParameter: 0, perTensor: 0 },
  momentum: { perParameter: 1, perTensor: 0 },
  adam: { perParameter: 2, perTensor: 1 },
};

/** The training section of a report; fills each row's `training` with that layer's share. */
export function trainingReport(
  shaped: ShapedGraph,
  rows: LayerRow[],
  options: TrainingOptions,
): TrainingReport {
  const { batch, optimizer } = options;
  const field = (name: string) => `training.${name}`;
  const total = (value: number, name: string, what: string) => exact(value, field(name), what);
  const needsGradient = new Map<string, boolean>([[INPUT_NAME, false]]);
  const kept = new Set<string>();
  let saved = 0;
  let forward = 0;
  let backwardInput = 0;
  let backwardWeights = 0;
  shaped.nodes.forEach(({ node, inputShapes, outputShape }, i) => {
    const row = rows[i];
    const at = where(node);
    const inputsNeed = node.inputs.some((name) => lookup(needsGradient, name, 'gradient flag'));
    const needs = inputsNeed || row.trainableParams > 0;
    needsGradient.set(node.name, needs);
    const rule = ruleFor(node);
    let layerSaved = 0;
    if (needs) {
      const keeps = rule.saves(inputShapes, outputShape, node.attrs);
      for (const tensor of keeps.tensors) {
        const name = tensor === 'output' ? node.name : node.inputs[tensor.input];
        if (kept.has(name)) continue;
        kept.add(name);
        const shape = lookup(shaped.shapes, name, 'shape');
        layerSaved += exact(
          elements(shape) * BYTES_PER_ELEMENT * batch,
          at,
          'bytes kept for the backward pass',
        );
      }
      for (const own of keeps.own) {
        layerSaved += exact(own.bytes * (own.perImage ? batch : 1), at, 'bytes kept for the backward pass');
      }
    }
    const macs = exact(row.macs * batch, at, 'MACs for the batch');
    const inputMacs = rule.cost === 'counted' && inputsNeed ? macs : 0;
    const weightMacs = rule.cost === 'counted' && row.trainableParams > 0 ? macs : 0;
    row.training = { savedBytes: layerSaved, backwardInputMacs: inputMacs, backwardWeightMacs: weightMacs };
    saved = total(
      saved + layerSaved,
      'bytes.savedActivations',
      'a total of bytes kept for the backward pass',
    );
    forward = total(forward + macs, 'macs.forward', 'a total of forward MACs');
    backwardInput = total(backwardInput + inputMacs, 'macs.backwardInput', 'a total of input-gradient MACs');
    backwardWeights = total(
      backwardWeights + weightMacs,
      'macs.backwardWeights',
      'a total of weight-gradient MACs',
    );
  });
  const params = rows.reduce((s, r) => s + r.params, 0);
  const trainable = rows.reduce((s, r) => s + r.trainableParams, 0);
  const trainableTensors = rows.reduce((s, r) => s + r.weights.filter((w) => w.trainable).length, 0);
  const state = OPTIMIZER_STATE[optimizer];
  const weights = total(params * BYTES_PER_ELEMENT, 'bytes.weights', 'weight bytes');
  const gradients = total(trainable * BYTES_PER_ELEMENT, 'bytes.gradients', 'gradient bytes');
  const optimizerState = total(
    (trainable * state.perParameter + trainableTensors * state.perTensor) * BYTES_PER_ELEMENT,
    'bytes.optimizerState',
    'optimizer-state bytes',
  );
  return {
    batch,
    optimizer,
    bytes: {
      weights,
      gradients,
      optimizerState,
      savedActivations: saved,
      total: total(weights + gradients + optimizerState + saved, 'bytes.total', 'a total of training bytes'),
    },
    macs: {
      forward,
      backwardInput,
      backwardWeights,
      step: total(forward + backwardInput + backwardWeights, 'macs.step', 'MACs per training step'),
    },
  };
}
