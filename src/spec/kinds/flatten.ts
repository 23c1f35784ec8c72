/** flatten: a feature map to a vector in H, W, C order (Keras' channels-last flatten). */
import type { KindDef, Named } from './kind.js';
import { dataMovement, elements, noWeights, savesNothing, zero } from './shared.js';

export type FlattenAttrs = Record<string, never>;

export interface FlattenSpec extends Named {
  kind: 'flatten';
}

export const flatten: KindDef<FlattenAttrs, FlattenSpec> = {
  summary: 'Flattens a feature map to a vector, in height, width, channel order.',
  stem: 'flatten',
  authoring: { properties: {}, read: () => ({}), example: { kind: 'flatten' } },
  rule: {
    cost: 'zero',
    outputShape: (inputs) => [elements(inputs[0])],
    weights: noWeights,
    macs: zero,
    elementOps: zero,
    saves: savesNothing,
  },
  traits: dataMovement(false),
};
