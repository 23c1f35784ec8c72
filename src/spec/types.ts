/**
 * The architecture spec: the one description of a network that every interpreter (analyzer,
 * tfjs builder, weight loaders) reads. Users write the *authoring* form (nested composites,
 * optional names); `normalizeSpec` turns it into the *graph* form (a flat, topologically
 * ordered list of named leaf layers with explicit inputs), which is what interpreters walk.
 */

/** [H, W, C] for one image; the batch dimension is never part of a spec. */
export type Shape3 = [number, number, number];
/** Output shape of a layer: [H, W, C] for feature maps, [C] after flatten/global pooling/dense. */
export type TensorShape = number[];

export type Pair = [number, number];

/** How a spatial layer pads. `same` follows TensorFlow (extra pixel at bottom/right). */
export type Padding =
  | { mode: 'same' }
  | { mode: 'valid' }
  | { mode: 'explicit'; top: number; bottom: number; left: number; right: number };

export type ActivationFn = 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'softmax' | 'linear';

export const ACTIVATION_FNS: readonly ActivationFn[] = ['relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'linear'];

// ---------------------------------------------------------------------------------------------
// Authoring form (what users POST and what the zoo generators return)
// ---------------------------------------------------------------------------------------------

/** Padding as written: keyword, one number for all sides, [ph, pw], or [[top, bottom], [left, right]]. */
export type PaddingInput = 'same' | 'valid' | number | Pair | [Pair, Pair];
export type SizeInput = number | Pair;

interface Named {
  /** Stable hierarchical name; generated Keras-style when omitted. */
  name?: string;
}

export interface Conv2dSpec extends Named {
  kind: 'conv2d';
  filters: number;
  kernel: SizeInput;
  strides?: SizeInput;
  padding?: PaddingInput;
  dilation?: SizeInput;
  groups?: number;
  bias?: boolean;
}
export interface BatchNormSpec extends Named {
  kind: 'batchnorm';
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
}
export interface ActivationSpec extends Named {
  kind: 'activation';
  function: ActivationFn;
}
export interface ZeroPadSpec extends Named {
  kind: 'zeropad';
  padding: Exclude<PaddingInput, 'same' | 'valid'>;
}
export interface PoolSpec extends Named {
  kind: 'maxpool' | 'avgpool';
  pool: SizeInput;
  strides?: SizeInput;
  padding?: PaddingInput;
  /** torchvision's ceil_mode: round the output size up (the last window may hang over the edge). */
  ceilMode?: boolean;
  /** avgpool only: whether explicit zero padding counts in the divisor (PyTorch's default is true). */
  countIncludePad?: boolean;
}
export interface GlobalPoolSpec extends Named {
  kind: 'globalavgpool' | 'globalmaxpool';
}
export interface FlattenSpec extends Named {
  kind: 'flatten';
}
export interface DenseSpec extends Named {
  kind: 'dense';
  units: number;
  bias?: boolean;
  /** Keras puts the classifier's softmax inside the Dense layer; so may we. */
  activation?: ActivationFn;
}
export interface DropoutSpec extends Named {
  kind: 'dropout';
  rate: number;
}

export type LeafSpec =
  | Conv2dSpec
  | BatchNormSpec
  | ActivationSpec
  | ZeroPadSpec
  | PoolSpec
  | GlobalPoolSpec
  | FlattenSpec
  | DenseSpec
  | DropoutSpec;

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
/** Parallel branches over one input, concatenated on channels; the concat carries the module's name. */
export interface BranchesSpec extends Named {
  kind: 'branches';
  branches: BranchSpec[];
}
/** `count` copies of `layers`; copy i (1-based) is a sequence named `<name>_<i>`. */
export interface RepeatSpec extends Named {
  kind: 'repeat';
  count: number;
  layers: NodeSpec[];
}

export type CompositeSpec = SequenceSpec | ResidualSpec | BranchesSpec | RepeatSpec;
export type NodeSpec = LeafSpec | CompositeSpec;

export interface ArchitectureSpec {
  name?: string;
  /** Per-image input shape [H, W, C]. */
  input: Shape3;
  layers: NodeSpec[];
}

// ---------------------------------------------------------------------------------------------
// Graph form (what interpreters walk)
// ---------------------------------------------------------------------------------------------

export interface Conv2dAttrs {
  filters: number;
  kernel: Pair;
  strides: Pair;
  padding: Padding;
  dilation: Pair;
  groups: number;
  bias: boolean;
}
export interface BatchNormAttrs {
  epsilon: number;
  center: boolean;
  scale: boolean;
}
export interface PoolAttrs {
  pool: Pair;
  strides: Pair;
  padding: Padding;
  ceilMode: boolean;
  countIncludePad: boolean;
}
export interface DenseAttrs {
  units: number;
  bias: boolean;
  activation: ActivationFn;
}

/** Every leaf layer kind, each with its normalised attributes. `add` and `concat` come from composites. */
export interface LeafAttrsByKind {
  conv2d: Conv2dAttrs;
  batchnorm: BatchNormAttrs;
  activation: { function: ActivationFn };
  zeropad: { padding: Extract<Padding, { mode: 'explicit' }> };
  maxpool: PoolAttrs;
  avgpool: PoolAttrs;
  globalavgpool: Record<string, never>;
  globalmaxpool: Record<string, never>;
  flatten: Record<string, never>;
  dense: DenseAttrs;
  dropout: { rate: number };
  /** out = inputs[0] + scale · inputs[1] */
  add: { scale: number };
  /** Concatenation on the channel axis. */
  concat: Record<string, never>;
}
export type LeafKind = keyof LeafAttrsByKind;

export const LEAF_KINDS: readonly LeafKind[] = [
  'conv2d', 'batchnorm', 'activation', 'zeropad', 'maxpool', 'avgpool', 'globalavgpool',
  'globalmaxpool', 'flatten', 'dense', 'dropout', 'add', 'concat',
];
/** Kinds a user may write directly; add and concat arise from residual and branches. */
export const AUTHORED_LEAF_KINDS = LEAF_KINDS.filter((k) => k !== 'add' && k !== 'concat');
export const COMPOSITE_KINDS = ['sequence', 'residual', 'branches', 'repeat'] as const;

export type GraphNodeOf<K extends LeafKind> = {
  name: string;
  kind: K;
  attrs: LeafAttrsByKind[K];
  /** Names of the producing nodes ('input' for the network input). */
  inputs: string[];
  /** Names of the enclosing composites, outermost first. */
  blockPath: string[];
  /** Where the layer was written in the authoring spec, e.g. `layers[3].body[1]`. */
  specPath: string;
};
export type GraphNode = { [K in LeafKind]: GraphNodeOf<K> }[LeafKind];

export interface ResidualBlockInfo {
  type: 'residual';
  name: string;
  blockPath: string[];
  /** Leaf names inside the block, in execution order. */
  nodes: string[];
  shortcut: 'identity' | 'projection' | 'pooling';
  shortcutNodes: string[];
  addNode: string;
  preactivation: boolean;
}
export interface BranchesBlockInfo {
  type: 'branches';
  name: string;
  blockPath: string[];
  nodes: string[];
  branches: { name: string; nodes: string[] }[];
  concatNode: string;
}
export type BlockInfo = ResidualBlockInfo | BranchesBlockInfo;

export const INPUT_NAME = 'input';

export interface Graph {
  name: string;
  input: Shape3;
  /** Leaf layers in a valid execution order (every input is produced before it is read). */
  nodes: GraphNode[];
  output: string;
  blocks: BlockInfo[];
}
