/**
 * Plain objects for the parts of ONNX we emit, and their encoding as an ONNX ModelProto
 * (field numbers from onnx/onnx.proto, IR version 8, default-domain opset 17).
 * Float initializers go in `raw_data` (little-endian, as the spec requires), which ONNX Runtime
 * reads without per-element decoding.
 */
import { ProtoWriter } from './protobuf.js';

export const IR_VERSION = 8;
export const OPSET = 17;
export const PRODUCER = 'convnet-serve';

/** TensorProto.DataType values we use. */
export const DataType = { FLOAT: 1, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type Attribute =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'ints'; value: number[] }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'string'; value: string };

export const attr = {
  int: (name: string, value: number): Attribute => ({ name, type: 'int', value }),
  ints: (name: string, value: number[]): Attribute => ({ name, type: 'ints', value }),
  float: (name: string, value: number): Attribute => ({ name, type: 'float', value }),
  string: (name: string, value: string): Attribute => ({ name, type: 'string', value }),
};

export interface NodeDef {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attributes?: Attribute[];
}

/** A constant tensor: float32 or int64 data, row-major. */
export interface TensorDef {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

/** A graph input or output: element type and shape, where a string is a symbolic dimension. */
export interface ValueInfoDef {
  name: string;
  elemType: DataTypeCode;
  dims: (number | string)[];
}

export interface GraphDef {
  name: string;
  nodes: NodeDef[];
  initializers: TensorDef[];
  inputs: ValueInfoDef[];
  outputs: ValueInfoDef[];
}

export interface ModelDef {
  graph: GraphDef;
  docString?: string;
}

// AttributeProto.AttributeType
const ATTR_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The tensor's bytes, little-endian: a view on little-endian hosts, a converted copy otherwise. */
function leBytes(data: Float32Array | BigInt64Array): Uint8Array {
  if (littleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array) for (const [i, v] of data.entries()) view.setFloat32(i * 4, v, true);
  else for (const [i, v] of data.entries()) view.setBigInt64(i * 8, v, true);
  return out;
}

function encodeTensor(t: TensorDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d); // dims
  w.int(2, t.data instanceof Float32Array ? DataType.FLOAT : DataType.INT64); // data_type
  w.string(8, t.name); // name
  w.bytes(9, leBytes(t.data)); // raw_data
  return w;
}

function encodeAttribute(a: Attribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  switch (a.type) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.int(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'ints':
      w.packedInts(8, a.value);
      break;
  }
  return w.int(20, ATTR_TYPE[a.type]);
}

function encodeNode(n: NodeDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const a of n.attributes ?? []) w.message(5, encodeAttribute(a));
  return w;
}

function encodeValueInfo(v: ValueInfoDef): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.dims) {
    const dim = typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d); // dim_value | dim_param
    shape.message(1, dim);
  }
  const tensorType = new ProtoWriter().int(1, v.elemType).message(2, shape); // elem_type, shape
  const type = new ProtoWriter().message(1, tensorType); // TypeProto.tensor_type
  return new ProtoWriter().string(1, v.name).message(2, type);
}

function encodeGraph(g: GraphDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w;
}

/** Serialises a model to ONNX protobuf bytes. */
export function encodeModel(model: ModelDef): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, IR_VERSION); // ir_version
  w.string(2, PRODUCER); // producer_name
  if (model.docString) w.string(6, model.docString);
  w.message(7, encodeGraph(model.graph)); // graph
  w.message(8, new ProtoWriter().string(1, '').int(2, OPSET)); // opset_import: default domain
  return w.finish();
}
