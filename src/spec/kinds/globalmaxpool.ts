/** globalmaxpool: the maximum of each channel over H and W. */
import {
  globalPoolAuthoring,
  globalPoolRule,
  type GlobalPoolAttrs,
  type GlobalPoolSpec,
} from './global-pooling.js';
import type { KindDef } from './kind.js';
import { dataMovement } from './shared.js';

export const globalmaxpool: KindDef<GlobalPoolAttrs, GlobalPoolSpec<'globalmaxpool'>> = {
  summary: 'Global max pooling: [H, W, C] → [C], or [1, 1, C] with keepdims.',
  stem: 'global_max_pooling2d',
  authoring: globalPoolAuthoring({ kind: 'globalmaxpool', keepdims: true }),
  rule: globalPoolRule,
  traits: dataMovement(false),
};
