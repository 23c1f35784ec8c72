/**
 * The authoring form of a spec: what users POST and the zoo generators return. Leaf layers are
 * written as their kind's descriptor says (kinds/); composites nest them and name them.
 */
import type { Shape3 } from './basics.js';
import type { BranchMerge } from './graph.js';
import type { LeafSpec } from './kinds/index.js';
import type { Named } from './kinds/kind.js';

export interface SequenceSpec extends Named {
  kind: 'sequence';
  layers: NodeSpec[];
}

/**
 * A residual block: out = post(shortcut(x) + scale · body(x)).
 * v1 (post-activation, He et al. 2015): body ends in BN, `post` holds the ReLU.
 * v2 (pre-activation, He et al. 2016): `preact` (BN, ReLU) runs first; the body reads its output and
 * the shortcut reads either the raw input (identity / pooling) or the pre-activated input (projection).
 */
export interface ResidualSpec extends Named {
  kind: 'residual';
  preact?: NodeSpec[];
  body: NodeSpec[];
  /** Omitted or 'identity': the input itself. Otherwise layers applied to `from` (default 'input'). */
  shortcut?: 'identity' | { from?: 'input' | 'preact'; layers: NodeSpec[] };
  /** Inception-ResNet scales the residual branch before the add. */
  scale?: number;
  /** Name of the add layer; defaults to `<name>_add`. */
  addName?: string;
  post?: NodeSpec[];
}

export interface BranchSpec {
  name?: string;
  layers: NodeSpec[];
}
/**
 * Parallel branches over one input, merged by `merge`: concatenated on channels (the default; an
 * inception module), added, or multiplied element-wise (a squeeze-and-excitation block: an empty
 * branch, which is the input itself, times a branch computing per-channel scales). The merge
 * layer carries the module's name.
 */
export interface BranchesSpec extends Named {
  kind: 'branches';
  branches: BranchSpec[];
  merge?: BranchMerge;
}
/** `count` copies of `layers`; copy i (1-based) is a sequence named `<name>_<i>`. */
export interface RepeatSpec extends Named {
  kind: 'repeat';
  count: number;
  layers: NodeSpec[];
}

export type CompositeSpec = SequenceSpec | ResidualSpec | BranchesSpec | RepeatSpec;
export type NodeSpec = LeafSpec | CompositeSpec;

export const COMPOSITE_KINDS = ['sequence', 'residual', 'branches', 'repeat'] as const;

export interface ArchitectureSpec {
  name?: string;
  /** Per-image input shape [H, W, C]. */
  input: Shape3;
  layers: NodeSpec[];
}
