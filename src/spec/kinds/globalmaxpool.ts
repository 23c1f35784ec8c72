/** globalmaxpool: the maximum of each channel over H and W. */
import {
  globalPoolAuthoring,
  globalPoolRule,
  type GlobalPoolAttrs,
  type GlobalPoolSpec,
} from './global-pooling.js';
import type { KindDef } from './kind.js';
import { dataMovement, indicesOf } from './shared.js';

export const globalmaxpool: KindDef<GlobalPoolAttrs, GlobalPoolSpec<'globalmaxpool'>> = {
  summary: 'Global max pooling: [H, W, C] → [C], or [1, 1, C] with keepdims.',
  stem: 'global_max_pooling2d',
  authoring: globalPoolAuthoring({ kind: 'globalmaxpool', keepdims: true }),
  // PyTorch's adaptive max pool keeps the input and int64 indices of the maxima.
  rule: {
    ...globalPoolRule,
    saves: (_inputs, output) => ({ tensors: [{ input: 0 }], own: [indicesOf(output)] }),
  },
  traits: dataMovement(false),
};
