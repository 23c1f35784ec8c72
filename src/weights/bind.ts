/**
 * Strict binding of loaded tensors to a graph's layers, by name. The expected weights come from the
 * analyzer's rules (one source of truth for names and shapes). Any missing weight, unexpected
 * weight or shape mismatch refuses the whole model, with every problem listed.
 * Key styles, detected from the keys themselves:
 *  - `layer-names`: `<layer>/<weight>` in Keras layout (HWIO kernels, [in, out] dense kernels);
 *  - `torchvision`: state_dict keys (`layer1.0.conv1.weight`), converted OIHW → HWIO and
 *    [out, in] → [in, out], with `.` in module paths mapped to `_` in our layer names.
 */
import type { ShapedGraph } from '../analysis/shapes.js';
import type { GraphNode } from '../spec/types.js';
import { WeightsError, type KeyStyle, type RawTensor } from './types.js';

export interface BoundWeight {
  layer: string;
  weight: string;
  shape: number[];
  data: Float32Array;
}

const TORCH_KEY = /^[A-Za-z0-9_.]+\.(weight|bias|running_mean|running_var|num_batches_tracked)$/;

export function detectKeyStyle(keys: string[]): KeyStyle {
  return keys.length > 0 && keys.every((k) => !k.includes('/') && TORCH_KEY.test(k)) ? 'torchvision' : 'layer-names';
}

/** Permutes a dense row-major array: out[perm-indexed] = in, e.g. OIHW → HWIO with perm [2,3,1,0]. */
export function permute(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]);
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  const permStrides = perm.map((p) => inStrides[p]);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * permStrides[d];
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

const TORCH_BN: Record<string, string> = { weight: 'gamma', bias: 'beta', running_mean: 'moving_mean', running_var: 'moving_variance' };

/** Renames torchvision keys to `<layer>/<weight>` and converts layouts, using each layer's kind. */
function fromTorchvision(tensors: Map<string, RawTensor>, nodes: Map<string, GraphNode>): { tensors: Map<string, RawTensor>; unexpected: string[] } {
  const out = new Map<string, RawTensor>();
  const unexpected: string[] = [];
  for (const [key, t] of tensors) {
    const cut = key.lastIndexOf('.');
    const param = key.slice(cut + 1);
    if (param === 'num_batches_tracked') continue;
    const layer = key.slice(0, cut).replace(/\./g, '_');
    const node = nodes.get(layer);
    if (!node) {
      unexpected.push(key);
      continue;
    }
    if (node.kind === 'batchnorm' && TORCH_BN[param]) {
      out.set(`${layer}/${TORCH_BN[param]}`, t);
    } else if (node.kind === 'conv2d' && param === 'weight' && t.shape.length === 4) {
      out.set(`${layer}/kernel`, permute(t.data, t.shape, [2, 3, 1, 0]));
    } else if (node.kind === 'dense' && param === 'weight' && t.shape.length === 2) {
      out.set(`${layer}/kernel`, permute(t.data, t.shape, [1, 0]));
    } else if ((node.kind === 'conv2d' || node.kind === 'dense') && param === 'bias') {
      out.set(`${layer}/bias`, t);
    } else {
      unexpected.push(key);
    }
  }
  return { tensors: out, unexpected };
}

const fmt = (s: number[]) => `[${s.join(', ')}]`;

export function bindWeights(shaped: ShapedGraph, loaded: Map<string, RawTensor>): { bound: BoundWeight[]; keyStyle: KeyStyle } {
  const keyStyle = detectKeyStyle([...loaded.keys()]);
  const nodes = new Map(shaped.graph.nodes.map((n) => [n.name, n]));
  let tensors = loaded;
  const unexpected: string[] = [];
  if (keyStyle === 'torchvision') {
    const converted = fromTorchvision(loaded, nodes);
    tensors = converted.tensors;
    unexpected.push(...converted.unexpected);
  }
  const problems: Record<string, unknown>[] = [];
  const bound: BoundWeight[] = [];
  const used = new Set<string>();
  for (const { node, weights } of shaped.nodes) {
    for (const w of weights) {
      const key = `${node.name}/${w.name}`;
      const t = tensors.get(key);
      used.add(key);
      if (!t) {
        problems.push({ problem: 'missing', layer: node.name, weight: w.name, expected: w.shape });
      } else if (fmt(t.shape) !== fmt(w.shape)) {
        problems.push({ problem: 'shape', layer: node.name, weight: w.name, expected: w.shape, found: t.shape });
      } else {
        bound.push({ layer: node.name, weight: w.name, shape: w.shape, data: t.data });
      }
    }
  }
  for (const key of tensors.keys()) if (!used.has(key)) unexpected.push(key);
  for (const key of unexpected) problems.push({ problem: 'unexpected', key });
  if (problems.length) {
    const describe = (p: Record<string, unknown>) =>
      p.problem === 'missing' ? `missing ${p.layer}/${p.weight} (expected ${fmt(p.expected as number[])})`
        : p.problem === 'shape' ? `${p.layer}/${p.weight}: expected ${fmt(p.expected as number[])}, found ${fmt(p.found as number[])}`
          : `unexpected weight ${p.key}`;
    const shown = problems.slice(0, 5).map(describe).join('; ');
    throw new WeightsError(`weights do not match the architecture (${keyStyle} keys): ${problems.length} problem(s): ${shown}${problems.length > 5 ? '; …' : ''}`, problems);
  }
  return { bound, keyStyle };
}
