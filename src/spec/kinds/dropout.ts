/** dropout: the identity at inference; kept so names and layer lists match the source model. */
import type { KindDef, Named } from './kind.js';
import { finiteNumber } from './read.js';
import { dataMovement, noWeights, passThrough, zero } from './shared.js';

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
  rule: { cost: 'zero', outputShape: passThrough, weights: noWeights, macs: zero, elementOps: zero },
  traits: dataMovement(true),
};
