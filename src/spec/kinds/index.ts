/**
 * The kind table: one descriptor per leaf layer kind. Everything kind-specific in the core is
 * derived from it (the kind names, the attribute and authoring types, the JSON Schema, the readers,
 * the generated names, the analysis rules, the trait sets); every backend keeps one table typed
 * `{[K in LeafKind]: …}`, so adding a kind here without an entry there fails to compile.
 *
 * To add a kind: write `<kind>.ts` (a KindDef), list it here, add its entry to each backend table
 * (docs/ARCHITECTURE.md lists them), and test it.
 */
import { activation } from './activation.js';
import { add } from './add.js';
import { avgpool } from './avgpool.js';
import { batchnorm } from './batchnorm.js';
import { concat } from './concat.js';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { dropout } from './dropout.js';
import { flatten } from './flatten.js';
import { globalavgpool } from './globalavgpool.js';
import { globalmaxpool } from './globalmaxpool.js';
import type { AttrsOf, KindDef, KindTraits, LayerRule, SpecOf } from './kind.js';
import { maxpool } from './maxpool.js';
import { multiply } from './multiply.js';
import { normalization } from './normalization.js';
import { reshape } from './reshape.js';
import { rescaling } from './rescaling.js';
import { zeropad } from './zeropad.js';

export const KINDS = {
  conv2d,
  batchnorm,
  activation,
  zeropad,
  maxpool,
  avgpool,
  globalavgpool,
  globalmaxpool,
  flatten,
  dense,
  dropout,
  add,
  concat,
  multiply,
  reshape,
  rescaling,
  normalization,
};

type Table = typeof KINDS;
export type LeafKind = keyof Table;
/** Every leaf kind with its normalised attributes. */
export type LeafAttrsByKind = { [K in LeafKind]: AttrsOf<Table[K]> };
/** Kinds a user may write as a layer; the others (add, concat, multiply) come from composites and importers. */
export type AuthoredKind = { [K in LeafKind]: [SpecOf<Table[K]>] extends [never] ? never : K }[LeafKind];
/** A leaf layer as written in a spec. */
export type LeafSpec = { [K in AuthoredKind]: SpecOf<Table[K]> }[AuthoredKind];

/** The descriptor of a kind, typed by its attributes. */
export function kindOf<K extends LeafKind>(kind: K): KindDef<LeafAttrsByKind[K], SpecOf<Table[K]>> {
  return KINDS[kind] as unknown as KindDef<LeafAttrsByKind[K], SpecOf<Table[K]>>;
}

export const LEAF_KINDS = Object.keys(KINDS) as LeafKind[];
export const AUTHORED_LEAF_KINDS = LEAF_KINDS.filter(
  (k) => KINDS[k].authoring !== undefined,
) as AuthoredKind[];

export function isAuthoredKind(kind: unknown): kind is AuthoredKind {
  return (
    typeof kind === 'string' && Object.hasOwn(KINDS, kind) && KINDS[kind as LeafKind].authoring !== undefined
  );
}

export function ruleOf<K extends LeafKind>(kind: K): LayerRule<LeafAttrsByKind[K]> {
  return kindOf(kind).rule;
}

export function traitsOf<K extends LeafKind>(kind: K): KindTraits<LeafAttrsByKind[K]> {
  return kindOf(kind).traits;
}

/** Kinds whose trait is set, for membership tests. */
export const kindsWhere = (trait: 'channelwise' | 'mixesChannels'): ReadonlySet<LeafKind> =>
  new Set(LEAF_KINDS.filter((k) => KINDS[k].traits[trait]));
