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
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BFLOAT16: 16 } as const;
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

/** What a constant tensor holds, row-major: float32, or the integer types quantized graphs need. */
export type TensorData = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** A constant tensor. */
export interface TensorDef {
  name: string;
  dims: number[];
  data: TensorData;
}

/**
 * A graph input or output: element type and shape, where a string is a symbolic dimension;
 * `dims` undefined leaves the shape out (ONNX Runtime infers it; calibration outputs use that).
 */
export interface ValueInfoDef {
  name: string;
  elemType: DataTypeCode;
  dims: (number | string)[] | undefined;
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
  /** The default domain's opset (OPSET unless a graph needs a later operator version). */
  opset?: number;
}

// AttributeProto.AttributeType
const ATTR_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The tensor's bytes, little-endian: a view on little-endian hosts (and for bytes), a converted copy otherwise. */
function leBytes(data: TensorData): Uint8Array {
  if (littleEndian || data.BYTES_PER_ELEMENT === 1)
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  if (data instanceof Float32Array) for (const [i, v] of data.entries()) view.setFloat32(i * 4, v, true);
  else if (data instanceof Int32Array) for (const [i, v] of data.entries()) view.setInt32(i * 4, v, true);
  else if (data instanceof BigInt64Array)
    for (const [i, v] of data.entries()) view.setBigInt64(i * 8, v, true);
  return out;
}

function dataType(data: TensorData): DataTypeCode {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof BigInt64Array) return DataType.INT64;
  if (data instanceof Int32Array) return DataType.INT32;
  return data instanceof Int8Array ? DataType.INT8 : DataType.UINT8;
}

function encodeTensor(t: TensorDef): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d); // dims
  w.int(2, dataType(t.data)); // data_type
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
  const tensorType = new ProtoWriter().int(1, v.elemType); // elem_type
  if (v.dims) {
    const shape = new ProtoWriter();
    for (const d of v.dims) {
      const dim = typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d); // dim_value | dim_param
      shape.message(1, dim);
    }
    tensorType.message(2, shape); // shape
  }
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
  w.message(8, new ProtoWriter().string(1, '').int(2, model.opset ?? OPSET)); // opset_import: default domain
  return w.finish();
}
