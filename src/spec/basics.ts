/**
 * The primitive types every part of the spec is written in: shapes, sizes and padding. Kept apart
 * from the graph and authoring types so the kind descriptors can use them without importing the
 * kind table they belong to.
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

export type ExplicitPadding = Extract<Padding, { mode: 'explicit' }>;

/** Padding as written: keyword, one number for all sides, [ph, pw], or [[top, bottom], [left, right]]. */
export type PaddingInput = 'same' | 'valid' | number | Pair | [Pair, Pair];
export type SizeInput = number | Pair;

/** The name of the network input in every graph. */
export const INPUT_NAME = 'input';
