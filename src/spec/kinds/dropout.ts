/** dropout: the identity at inference; kept so names and layer lists match the source model. */
import type { KindDef, Named } from './kind.js';
import { finiteNumber } from './read.js';
import { dataMovement, elements, noWeights, passThrough, savesNothing, zero } from './shared.js';

export interface DropoutAttrs {
  rate: number;
}

export interface DropoutSpec extends Named {
  kind: 'dropout';
  rate: number;
}

export const dropout: KindDef<DropoutAttrs, DropoutSpec> = {
  summary: 'Dropout: the identity at inference.',
  stem: 'dropout',
  authoring: {
    properties: { rate: { type: 'number', minimum: 0, exclusiveMaximum: 1 } },
    required: ['rate'],
    read: (spec, at) => ({ rate: finiteNumber(spec.rate, `${at}.rate`, 0.5, 0, 0.999999) }),
    example: { kind: 'dropout', rate: 0.2 },
  },
  rule: {
    cost: 'zero',
    outputShape: passThrough,
    weights: noWeights,
    macs: zero,
    elementOps: zero,
    // PyTorch on the CPU keeps the scaled mask as float32, one per element (a fused GPU kernel keeps 1 byte).
    // At rate 0 PyTorch returns the input and keeps nothing.
    saves: (inputs, _output, a) =>
      a.rate === 0
        ? savesNothing()
        : { tensors: [], own: [{ what: 'mask (float32)', bytes: 4 * elements(inputs[0]), perImage: true }] },
  },
  traits: dataMovement(true),
};
