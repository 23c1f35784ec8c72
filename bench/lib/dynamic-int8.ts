/**
 * What "dynamic" int8 would cost on ONNX Runtime's CPU provider, measured rather than guessed
 * (docs/precision.md gives the figure): each convolution of an fp32 graph becomes
 * DynamicQuantizeLinear (the input's uint8 range per batch, at run time) → ConvInteger (weights
 * uint8, per-channel scales, zero point 128) → Cast → Mul by input scale × channel scale → Add bias,
 * the form onnxruntime's own dynamic quantizer emits for Conv. The service does not serve it; the
 * bench times it beside static int8.
 */
import { attr, type ModelDef, type NodeDef, type TensorDef } from '../../src/interop/onnx/model.js';
import { quantizePerChannel } from '../../src/interop/onnx/quantize.js';

export function dynamicInt8(model: ModelDef): ModelDef {
  const g = model.graph;
  const initializers = new Map(g.initializers.map((t) => [t.name, t]));
  const added: TensorDef[] = [];
  const nodes: NodeDef[] = [];
  for (const n of g.nodes) {
    const w = n.op === 'Conv' ? initializers.get(n.inputs[1]) : undefined;
    if (!w) {
      nodes.push(n);
      continue;
    }
    const c = w.dims[0];
    const { q, scales } = quantizePerChannel(w.data as Float32Array, c);
    const name = n.outputs[0];
    added.push(
      { name: `${name}/w_u8`, dims: w.dims, data: Uint8Array.from(q, (v) => v + 128) },
      { name: `${name}/w_zp`, dims: [], data: Uint8Array.of(128) },
      { name: `${name}/w_scale`, dims: [1, c, 1, 1], data: scales },
    );
    const step = (
      op: string,
      inputs: string[],
      outputs: string[],
      attributes = [] as NodeDef['attributes'],
    ) => nodes.push({ op, inputs, outputs, name: outputs[0], attributes });
    step('DynamicQuantizeLinear', [n.inputs[0]], [`${name}/x_u8`, `${name}/x_scale`, `${name}/x_zp`]);
    step(
      'ConvInteger',
      [`${name}/x_u8`, `${name}/w_u8`, `${name}/x_zp`, `${name}/w_zp`],
      [`${name}/acc`],
      n.attributes,
    );
    step('Cast', [`${name}/acc`], [`${name}/acc_f`], [attr.int('to', 1)]);
    step('Mul', [`${name}/x_scale`, `${name}/w_scale`], [`${name}/scale`]);
    const scaled = n.inputs[2] ? `${name}/scaled` : name;
    step('Mul', [`${name}/acc_f`, `${name}/scale`], [scaled]);
    if (n.inputs[2]) {
      const b = initializers.get(n.inputs[2]);
      added.push({
        name: `${name}/bias_nchw`,
        dims: [1, c, 1, 1],
        data: (b?.data as Float32Array) ?? new Float32Array(c),
      });
      step('Add', [scaled, `${name}/bias_nchw`], [name]);
    }
  }
  const read = new Set(nodes.flatMap((n) => n.inputs));
  return {
    ...model,
    graph: { ...g, nodes, initializers: [...g.initializers.filter((t) => read.has(t.name)), ...added] },
  };
}
