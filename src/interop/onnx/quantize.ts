/**
 * An fp32 ONNX graph (as emit.ts builds it) → the same graph in int8, in ONNX's QDQ form: each
 * quantized activation gets a QuantizeLinear → DequantizeLinear pair after its producer, each
 * convolution's weights are stored as int8 behind a DequantizeLinear. ONNX Runtime (graph
 * optimisation 'all') fuses DQ → Conv → Q into QLinearConv, DQ → Add → Q into QLinearAdd, and so
 * on, and runs MaxPool, Transpose, Reshape and Flatten on the uint8 values directly when the pair
 * around them has the same parameters (test/interop/onnx/quantize.test.ts checks the fused graph).
 *
 * Choices, after onnxruntime's own quantization tool (QDQ format, its x86 defaults):
 * - Activations: uint8, asymmetric, per tensor, range [min(0, lo), max(0, hi)] of what calibration
 *   saw (so 0 is exact and zero padding stays zero). u8 activations × s8 weights is what MLAS's
 *   AVX-512 VNNI kernels (vpdpbusd) multiply.
 * - Conv weights: int8, symmetric, per output channel (DequantizeLinear axis 0), within +-64
 *   instead of +-127 on CPUs without VNNI (onnxruntime's `reduce_range`); the bias int32
 *   at scale x_scale · w_scale[c], zero point 0, as QLinearConv needs it.
 * - A Relu or Clip(0, ·) that alone reads a Conv's or Add's output is quantized at its output
 *   instead: its uint8 range starts at 0, and ONNX Runtime then drops the activation (the clamp
 *   to [0, 255] is the ReLU).
 * - Gemm (the classifier) and everything not listed stay float, reading dequantized values: the
 *   final layer is a sliver of the MACs and keeps the logits exact to the float they were given.
 */
import { defined } from '../../invariant.js';
import { attr, type ModelDef, type NodeDef, type TensorDef } from './model.js';

/** Observed range of one activation. */
export interface Range {
  min: number;
  max: number;
}

/** Ops computed on quantized inputs and output by ONNX Runtime's QDQ fusions. */
const COMPUTE_OPS = new Set(['Conv', 'Add', 'Concat', 'GlobalAveragePool', 'AveragePool']);
/** Ops that only move or select values: run on uint8 when input and output share their parameters. */
const PASS_OPS = new Set(['MaxPool', 'Transpose', 'Reshape', 'Flatten']);
/** Ops whose output is fused into the quantized output of the op before them. */
const FUSIBLE_ACTIVATIONS = new Set(['Relu', 'Clip']);
/** Ops whose activation inputs are quantized: only the first input (the rest are constants). */
const FIRST_INPUT_ONLY = new Set(['Conv', 'GlobalAveragePool', 'AveragePool', ...PASS_OPS]);

export interface QuantizationPlan {
  /** The activations whose ranges calibration must observe, in graph order (the graph input first if it is one). */
  calibrate: string[];
  /** Quantized values that reuse another's parameters (a pass-through op's output → its input's root). */
  alias: Map<string, string>;
}

/**
 * Which activations of `model` are quantized, and which of them share parameters: every activation
 * input of a compute op, its output (or the activation fused after it), and, through pass-through
 * ops, the values on either side.
 */
export function planQuantization(model: ModelDef): QuantizationPlan {
  const g = model.graph;
  const constants = new Set(g.initializers.map((t) => t.name));
  const outputs = new Set(g.outputs.map((o) => o.name));
  const consumers = new Map<string, NodeDef[]>();
  for (const n of g.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const clipFromZero = (n: NodeDef) =>
    n.op === 'Relu' ||
    (n.op === 'Clip' && n.inputs[1] !== undefined && constantValue(model, n.inputs[1]) === 0);
  const marked = new Set<string>();
  const activationInputs = (n: NodeDef) =>
    (FIRST_INPUT_ONLY.has(n.op) ? n.inputs.slice(0, 1) : n.inputs).filter((i) => !constants.has(i));
  for (const n of g.nodes) {
    if (!COMPUTE_OPS.has(n.op)) continue;
    for (const i of activationInputs(n)) marked.add(i);
    let out = n.outputs[0];
    const readers = consumers.get(out) ?? [];
    if (
      (n.op === 'Conv' || n.op === 'Add') &&
      readers.length === 1 &&
      FUSIBLE_ACTIVATIONS.has(readers[0].op) &&
      clipFromZero(readers[0]) &&
      !outputs.has(out)
    )
      out = readers[0].outputs[0];
    if (!outputs.has(out)) marked.add(out);
  }
  // Pass-through ops: quantized on both sides or neither, with their input's parameters.
  const alias = new Map<string, string>();
  const root = (v: string): string => alias.get(v) ?? v;
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of g.nodes) {
      if (!PASS_OPS.has(n.op)) continue;
      const [x] = n.inputs;
      const [y] = n.outputs;
      if (outputs.has(y) || !(marked.has(x) || marked.has(y)) || alias.has(y)) continue;
      marked.add(x);
      marked.add(y);
      alias.set(y, root(x));
      changed = true;
    }
  }
  const order = [...g.inputs.map((i) => i.name), ...g.nodes.flatMap((n) => n.outputs)];
  return { calibrate: order.filter((v) => marked.has(v) && !alias.has(v)), alias };
}

function constantValue(model: ModelDef, name: string): number | undefined {
  const t = model.graph.initializers.find((i) => i.name === name);
  return t && t.data.length === 1 ? Number(t.data[0]) : undefined;
}

/** The fp32 model with every activation of `values` also a graph output, for calibration. */
export function withOutputs(model: ModelDef, values: string[]): ModelDef {
  const inputs = new Set(model.graph.inputs.map((i) => i.name));
  const present = new Set(model.graph.outputs.map((o) => o.name));
  const extra = values.filter((v) => !inputs.has(v) && !present.has(v));
  return {
    ...model,
    graph: {
      ...model.graph,
      outputs: [
        ...model.graph.outputs,
        ...extra.map((name) => ({ name, elemType: model.graph.outputs[0].elemType, dims: undefined })),
      ],
    },
  };
}

/** uint8 asymmetric parameters covering [min(0, lo), max(0, hi)]. */
export function activationParams(r: Range): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, r.min);
  const hi = Math.max(0, r.max);
  if (!(hi > lo)) return { scale: 1, zeroPoint: 0 }; // a constant zero: any scale represents it
  const scale = (hi - lo) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))) };
}

/**
 * Symmetric int8 per output channel (axis 0 of an OIHW kernel), within +-`limit`: 127, or 64 for
 * CPUs whose int8 products saturate in pairs (src/engines/int8-weights.ts).
 */
export function quantizePerChannel(
  data: Float32Array,
  channels: number,
  limit = 127,
): { q: Int8Array; scales: Float32Array } {
  const per = data.length / channels;
  const q = new Int8Array(data.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(data[i]));
    const s = m > 0 ? m / limit : 1;
    scales[c] = s;
    for (let i = c * per; i < (c + 1) * per; i++)
      q[i] = Math.max(-limit, Math.min(limit, Math.round(data[i] / s)));
  }
  return { q, scales };
}

/**
 * The int8 QDQ model: `model` with the plan's activations quantized at the `ranges` calibration
 * observed, and its convolutions' weights in int8 within +-`weightLimit` (see quantizePerChannel).
 */
export function quantizeModel(
  model: ModelDef,
  plan: QuantizationPlan,
  ranges: Map<string, Range>,
  weightLimit = 127,
): ModelDef {
  const g = model.graph;
  const initializers = new Map(g.initializers.map((t) => [t.name, t]));
  const added: TensorDef[] = [];
  const params = new Map<string, { scale: string; zeroPoint: string; value: number }>();
  const paramsOf = (v: string) => {
    const root = plan.alias.get(v) ?? v;
    let p = params.get(root);
    if (!p) {
      const q = activationParams(defined(ranges.get(root), `the calibrated range of ${root}`));
      p = { scale: `${root}_scale`, zeroPoint: `${root}_zero_point`, value: q.scale };
      added.push({ name: p.scale, dims: [], data: Float32Array.of(q.scale) });
      added.push({ name: p.zeroPoint, dims: [], data: Uint8Array.of(q.zeroPoint) });
      params.set(root, p);
    }
    return p;
  };
  const quantized = new Set([...plan.calibrate, ...plan.alias.keys()]);
  const renamed = (v: string) => (quantized.has(v) ? `${v}_dq` : v);
  const qdq = (v: string): NodeDef[] => {
    const p = paramsOf(v);
    return [
      { op: 'QuantizeLinear', inputs: [v, p.scale, p.zeroPoint], outputs: [`${v}_q`], name: `${v}_q` },
      {
        op: 'DequantizeLinear',
        inputs: [`${v}_q`, p.scale, p.zeroPoint],
        outputs: [`${v}_dq`],
        name: `${v}_dq`,
      },
    ];
  };
  const nodes: NodeDef[] = g.inputs.filter((i) => quantized.has(i.name)).flatMap((i) => qdq(i.name));
  const dropped = new Set<string>();
  for (const n of g.nodes) {
    const inputs = n.inputs.map(renamed);
    if (n.op === 'Conv' && quantized.has(n.inputs[0])) {
      const x = paramsOf(n.inputs[0]);
      const w = defined(initializers.get(n.inputs[1]), `${n.name}'s kernel`);
      const channels = w.dims[0];
      const { q, scales } = quantizePerChannel(w.data as Float32Array, channels, weightLimit);
      const dq = (name: string, data: Int8Array | Int32Array, dims: number[], s: Float32Array) => {
        added.push({ name: `${name}_quantized`, dims, data });
        added.push({ name: `${name}_scale`, dims: [channels], data: s });
        added.push({
          name: `${name}_zero_point`,
          dims: [channels],
          data: data instanceof Int8Array ? new Int8Array(channels) : new Int32Array(channels),
        });
        nodes.push({
          op: 'DequantizeLinear',
          inputs: [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`],
          outputs: [`${name}_dq`],
          name: `${name}_dq`,
          attributes: [attr.int('axis', 0)],
        });
        dropped.add(name);
        return `${name}_dq`;
      };
      inputs[1] = dq(n.inputs[1], q, w.dims, scales);
      if (n.inputs[2]) {
        const b = defined(initializers.get(n.inputs[2]), `${n.name}'s bias`).data as Float32Array;
        const bs = scales.map((s) => s * x.value);
        const bq = Int32Array.from(b, (v, c) => Math.round(v / bs[c]));
        inputs[2] = dq(n.inputs[2], bq, [channels], bs);
      }
    }
    nodes.push({ ...n, inputs });
    for (const o of n.outputs) if (quantized.has(o)) nodes.push(...qdq(o));
  }
  const read = new Set(nodes.flatMap((n) => n.inputs));
  return {
    ...model,
    graph: {
      ...g,
      nodes,
      initializers: [...g.initializers.filter((t) => !dropped.has(t.name) || read.has(t.name)), ...added],
    },
  };
}
