/**
 * Strict binding of loaded tensors to a graph's layers, by name. What each layer expects (names,
 * shapes, and how PyTorch and Keras store the same tensors) comes from its kind's descriptor through
 * the shape pass, so binding needs no knowledge of kinds. Any missing weight, unexpected weight or
 * shape mismatch refuses the whole model, with every problem listed.
 * Key styles, detected from the keys themselves:
 *  - `layer-names`: `<layer>/<weight>` in our (Keras) layout; Keras' other names for a tensor
 *    (a depthwise conv's `depthwise_kernel`) are accepted too;
 *  - `torchvision`: state_dict keys (`layer1.0.conv1.weight`), converted from PyTorch's layout
 *    (OIHW → HWIO, [out, in] → [in, out]), with `.` in module paths mapped to `_` in our layer names.
 */
import type { ShapedGraph } from '../spec/shapes.js';
import type { BoundWeight, WeightSpec } from '../spec/types.js';
import { permute } from './permute.js';
import { WeightsError, type KeyStyle, type RawTensor } from './types.js';

export type { BoundWeight } from '../spec/types.js';

const TORCH_KEY = /^[A-Za-z0-9_.]+\.(weight|bias|running_mean|running_var|num_batches_tracked)$/;

export function detectKeyStyle(keys: string[]): KeyStyle {
  return keys.length > 0 && keys.every((k) => !k.includes('/') && TORCH_KEY.test(k))
    ? 'torchvision'
    : 'layer-names';
}

interface Expected {
  layer: string;
  spec: WeightSpec;
}

/** Where each key of the file's style should land: `<layer>/<weight>` in our layout. */
function lookup(
  shaped: ShapedGraph,
  keyStyle: KeyStyle,
): Map<string, { target: Expected; shape: number[]; perm?: number[] }> {
  const map = new Map<string, { target: Expected; shape: number[]; perm?: number[] }>();
  for (const { node, weights } of shaped.nodes) {
    for (const spec of weights) {
      const target = { layer: node.name, spec };
      if (keyStyle === 'torchvision') {
        if (!spec.torch) continue;
        const perm = spec.torch.perm;
        // The shape PyTorch stores: ours permuted back.
        const torchShape = perm ? perm.map((_, i) => spec.shape[perm.indexOf(i)]) : spec.shape;
        map.set(`${node.name}.${spec.torch.name}`, { target, shape: torchShape, perm });
      } else {
        map.set(`${node.name}/${spec.name}`, { target, shape: spec.shape });
        for (const alias of spec.kerasAliases ?? [])
          map.set(`${node.name}/${alias.name}`, { target, shape: alias.shape });
      }
    }
  }
  return map;
}

/** `model/block/conv1/kernel` → the longest known `…/conv1/kernel`: Keras files may prefix weights with model names. */
function bySuffix<T>(where: Map<string, T>, key: string): T | undefined {
  const parts = key.split('/');
  for (let i = 1; i < parts.length - 1; i++) {
    const hit = where.get(parts.slice(i).join('/'));
    if (hit) return hit;
  }
  return undefined;
}

const fmt = (s: number[]) => `[${s.join(', ')}]`;
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function bindWeights(
  shaped: ShapedGraph,
  loaded: Map<string, RawTensor>,
): { bound: BoundWeight[]; keyStyle: KeyStyle } {
  const keyStyle = detectKeyStyle([...loaded.keys()]);
  const where = lookup(shaped, keyStyle);
  const found = new Map<string, BoundWeight>();
  const problems: Record<string, unknown>[] = [];
  for (const [rawKey, t] of loaded) {
    if (keyStyle === 'torchvision' && rawKey.endsWith('.num_batches_tracked')) continue;
    // torchvision module paths use '.', our layer names '_' (`layer1.0.conv1` → `layer1_0_conv1`).
    const key =
      keyStyle === 'torchvision'
        ? `${rawKey.slice(0, rawKey.lastIndexOf('.')).replace(/\./g, '_')}${rawKey.slice(rawKey.lastIndexOf('.'))}`
        : rawKey;
    const hit = where.get(key) ?? (keyStyle === 'layer-names' ? bySuffix(where, key) : undefined);
    if (!hit) {
      problems.push({ problem: 'unexpected', key: rawKey });
      continue;
    }
    const { layer, spec } = hit.target;
    const id = `${layer}/${spec.name}`;
    if (!sameShape(t.shape, hit.shape)) {
      problems.push({ problem: 'shape', layer, weight: spec.name, expected: hit.shape, found: t.shape });
    } else if (found.has(id)) {
      problems.push({ problem: 'unexpected', key: rawKey, why: `a second tensor for ${id}` });
    } else {
      const data = hit.perm ? permute(t.data, t.shape, hit.perm).data : t.data;
      found.set(id, { layer, weight: spec.name, shape: spec.shape, data });
    }
  }
  const bound: BoundWeight[] = [];
  for (const { node, weights } of shaped.nodes) {
    for (const w of weights) {
      const b = found.get(`${node.name}/${w.name}`);
      if (b) bound.push(b);
      else if (!problems.some((p) => p.layer === node.name && p.weight === w.name))
        problems.push({ problem: 'missing', layer: node.name, weight: w.name, expected: w.shape });
    }
  }
  if (problems.length) {
    // Missing first, as the most common mistake (a wrong architecture) shows there.
    const order = { missing: 0, shape: 1, unexpected: 2 } as Record<string, number>;
    problems.sort((a, b) => order[a.problem as string] - order[b.problem as string]);
    const describe = (p: Record<string, unknown>) =>
      p.problem === 'missing'
        ? `missing ${p.layer}/${p.weight} (expected ${fmt(p.expected as number[])})`
        : p.problem === 'shape'
          ? `${p.layer}/${p.weight}: expected ${fmt(p.expected as number[])}, found ${fmt(p.found as number[])}`
          : `unexpected weight ${p.key}`;
    const shown = problems.slice(0, 5).map(describe).join('; ');
    throw new WeightsError(
      `weights do not match the architecture (${keyStyle} keys): ${problems.length} problem(s): ${shown}${problems.length > 5 ? '; …' : ''}`,
      problems,
    );
  }
  return { bound, keyStyle };
}
