/** globalavgpool: the mean of each channel over H and W. */
import {
  globalPoolAuthoring,
  globalPoolRule,
  type GlobalPoolAttrs,
  type GlobalPoolSpec,
} from './global-pooling.js';
import type { KindDef } from './kind.js';
import { dataMovement, savesInput } from './shared.js';

export const globalavgpool: KindDef<GlobalPoolAttrs, GlobalPoolSpec<'globalavgpool'>> = {
  summary: 'Global average pooling: [H, W, C] → [C], or [1, 1, C] with keepdims.',
  stem: 'global_average_pooling2d',
  authoring: globalPoolAuthoring({ kind: 'globalavgpool' }),
  // PyTorch's mean keeps the whole input, though the gradient needs only its shape.
  rule: { ...globalPoolRule, saves: savesInput },
  traits: dataMovement(false),
};
