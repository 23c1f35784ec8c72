/**
 * Peak activation memory by liveness: a tensor is freed once its last reader has run. This is an
 * estimate of what an inference engine without in-place reuse would hold; see CONVENTIONS.memory.
 */
import { INPUT_NAME } from '../spec/types.js';
import { elements } from '../spec/kinds/shared.js';
import type { ShapedGraph } from '../spec/shapes.js';
import { lookup } from '../invariant.js';
import { exact } from '../spec/exact.js';

export const BYTES_PER_ELEMENT = 4;

export function peakActivationBytes(shaped: ShapedGraph, batch: number): { bytes: number; atLayer: string } {
  const lastReader = new Map<string, number>();
  for (const [i, n] of shaped.nodes.entries()) for (const name of n.node.inputs) lastReader.set(name, i);
  lastReader.set(shaped.graph.output, Number.POSITIVE_INFINITY);
  const what = `activation bytes for a batch of ${batch}`;
  const size = (name: string) =>
    exact(
      elements(lookup(shaped.shapes, name, 'shape')) * BYTES_PER_ELEMENT * batch,
      'totals.peakActivationBytes',
      what,
    );

  let live = size(INPUT_NAME);
  let peak = live;
  let atLayer = INPUT_NAME;
  shaped.nodes.forEach((n, i) => {
    // Checked as it grows: memory freed later cannot make an inexact sum exact again.
    live = exact(live + size(n.node.name), 'totals.peakActivationBytes', what);
    if (live > peak) {
      peak = live;
      atLayer = n.node.name;
    }
    for (const name of new Set(n.node.inputs)) if (lastReader.get(name) === i) live -= size(name);
    // A layer nobody reads (and that is not the output) is freed at once.
    if (!lastReader.has(n.node.name)) live -= size(n.node.name);
  });
  return { bytes: peak, atLayer };
}
