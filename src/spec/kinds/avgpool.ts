/** avgpool: the mean over each window; explicit padding counts in the divisor only with `countIncludePad`. */
import type { KindDef } from './kind.js';
import { poolAuthoring, poolRule, type PoolAttrs, type PoolSpec } from './pooling.js';
import { dataMovement, savesInput } from './shared.js';

export const avgpool: KindDef<PoolAttrs, PoolSpec<'avgpool'>> = {
  summary: 'Average pooling over sliding windows.',
  stem: 'average_pooling2d',
  authoring: poolAuthoring({ kind: 'avgpool', pool: 2 }),
  // PyTorch keeps the input, though the gradient needs only its shape.
  rule: { ...poolRule, saves: savesInput },
  traits: dataMovement(false),
};
