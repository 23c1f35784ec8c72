/**
 * The graph form of a spec: a flat, topologically ordered list of named leaf layers with explicit
 * inputs. `normalizeSpec` and the importers produce it; the analyzer and every engine walk it.
 */
import type { Shape3 } from './basics.js';
import type { LeafAttrsByKind, LeafKind } from './kinds/index.js';

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
  /** False for a layer an imported model marks frozen (`"trainable": false`); its weights then count as non-trainable. */
  trainable?: boolean;
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
  /** The node that merges the branches (concat for inception modules; add or multiply otherwise). */
  concatNode: string;
  merge: BranchMerge;
}
export type BlockInfo = ResidualBlockInfo | BranchesBlockInfo;

/** How `branches` combines its branches: concatenated on channels, summed, or multiplied element-wise. */
export type BranchMerge = 'concat' | 'add' | 'multiply';

export interface Graph {
  name: string;
  input: Shape3;
  /** Leaf layers in a valid execution order (every input is produced before it is read). */
  nodes: GraphNode[];
  output: string;
  blocks: BlockInfo[];
}

/** A weight tensor bound to one layer, in our layout (see WeightSpec). */
export interface BoundWeight {
  layer: string;
  weight: string;
  shape: number[];
  data: Float32Array;
}
