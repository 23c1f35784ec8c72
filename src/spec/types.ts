/**
 * The architecture spec, in one import: the one description of a network that every interpreter
 * (analyzer, engines, weight binding, import and export) reads. Users write the *authoring* form
 * (nested composites, optional names); `normalizeSpec` turns it into the *graph* form (a flat,
 * topologically ordered list of named leaf layers with explicit inputs), which interpreters walk.
 */
export * from './basics.js';
export type { Activation, ActivationFn } from './activations.js';
export { ACTIVATION_FNS } from './activations.js';
export * from './authoring.js';
export * from './graph.js';
export type { AuthoredKind, LeafAttrsByKind, LeafKind, LeafSpec } from './kinds/index.js';
export { AUTHORED_LEAF_KINDS, LEAF_KINDS } from './kinds/index.js';
export type { Conv2dAttrs, Conv2dSpec } from './kinds/conv2d.js';
export type { BatchNormAttrs, BatchNormSpec } from './kinds/batchnorm.js';
export type { ActivationSpec } from './kinds/activation.js';
export type { PoolAttrs, PoolSpec } from './kinds/pooling.js';
export type { DenseAttrs, DenseSpec } from './kinds/dense.js';
export type { WeightSpec, Window } from './kinds/kind.js';
