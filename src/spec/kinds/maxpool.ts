/** maxpool: the maximum over each window; padded cells never win. */
import type { KindDef } from './kind.js';
import { poolAuthoring, poolRule, type PoolAttrs, type PoolSpec } from './pooling.js';
import { dataMovement, indicesOf } from './shared.js';

export const maxpool: KindDef<PoolAttrs, PoolSpec<'maxpool'>> = {
  summary:
    'Max pooling over sliding windows (TensorFlow "same", or explicit padding and ceil mode as PyTorch).',
  stem: 'max_pooling2d',
  authoring: poolAuthoring({ kind: 'maxpool', pool: 3, strides: 2, padding: 1 }),
  // The backward pass reads the input and where each maximum was: PyTorch keeps int64 indices.
  rule: { ...poolRule, saves: (_inputs, output) => ({ tensors: [{ input: 0 }], own: [indicesOf(output)] }) },
  traits: dataMovement(false),
};
