/** globalavgpool: the mean of each channel over H and W. */
import {
  globalPoolAuthoring,
  globalPoolRule,
  type GlobalPoolAttrs,
  type GlobalPoolSpec,
} from './global-pooling.js';
import type { KindDef } from './kind.js';
import { dataMovement } from './shared.js';

export const globalavgpool: KindDef<GlobalPoolAttrs, GlobalPoolSpec<'globalavgpool'>> = {
  summary: 'Global average pooling: [H, W, C] → [C], or [1, 1, C] with keepdims.',
  stem: 'global_average_pooling2d',
  authoring: globalPoolAuthoring({ kind: 'globalavgpool' }),
  rule: globalPoolRule,
  traits: dataMovement(false),
};
