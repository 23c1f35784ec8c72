/**
 * ONNX files decoded with protobufjs and the official schema (proto/onnx.proto, ONNX 1.12), into
 * plain objects: nodes with typed attributes, tensors (dims always, data only when asked), graph
 * inputs and outputs. Weights stay views into the file's bytes until a caller reads them, so
 * analysing a model copies none of them.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';
import { AppError, describeValue } from '../../errors.js';
import { defined } from '../../invariant.js';

/** TensorProto.DataType values we read. */
export const ONNX_FLOAT = 1;
export const ONNX_INT32 = 6;
export const ONNX_INT64 = 7;
export const ONNX_DOUBLE = 11;

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Whether the file holds the values (not so for weights exported with export_params=False). */
  hasData: boolean;
  /** The values as float32 (copied from the file; call only when they are needed). */
  floats(): Float32Array;
  /** The values as integers (shape arithmetic, pads, axes). */
  ints(): number[];
}

export type OnnxAttribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'other'; value: unknown };

export interface OnnxNode {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, OnnxAttribute>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** Known sizes, symbolic names, or undefined where nothing is written. */
  dims: (number | string | undefined)[];
}

export interface OnnxModel {
  irVersion: number;
  /** The default domain's opset version. */
  opset: number;
  producer: string;
  graphName: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export class InvalidOnnxError extends AppError {
  constructor(field: string, received: unknown, expected: string) {
    super(400, 'INVALID_MODEL_FILE', `${field}: expected ${expected}; received ${describeValue(received)}`, {
      field,
      received: describeValue(received, 200),
      expected,
    });
    this.name = 'InvalidOnnxError';
  }
}

let modelType: protobuf.Type | undefined;

/** The package root holds proto/ (tests and dev run from src/, the build from dist/src/). */
function protoPath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'proto', 'onnx.proto')) && path.dirname(dir) !== dir)
    dir = path.dirname(dir);
  return path.join(dir, 'proto', 'onnx.proto');
}

/**
 * protobufjs is loaded on the first ONNX file, not at start-up: every thread that imports this module
 * (the main thread, each inference and analysis worker) would otherwise spend ~60 ms loading it.
 */
function schema(): protobuf.Type {
  if (!modelType) {
    const { loadSync } = createRequire(import.meta.url)('protobufjs') as typeof protobuf;
    modelType = loadSync(protoPath()).lookupType('onnx.ModelProto');
  }
  return modelType;
}

type Long = { toNumber(): number };
type Json = Record<string, unknown>;

const num = (v: unknown): number =>
  typeof v === 'number'
    ? v
    : v && typeof (v as Long).toNumber === 'function'
      ? (v as Long).toNumber()
      : Number(v ?? 0);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string =>
  typeof v === 'string' ? v : v instanceof Uint8Array ? new TextDecoder().decode(v) : '';

function tensor(t: Json): OnnxTensor {
  const dims = list(t.dims).map(num);
  const dataType = num(t.dataType);
  const raw = t.rawData instanceof Uint8Array && t.rawData.byteLength > 0 ? t.rawData : undefined;
  const floatData = list(t.floatData) as number[];
  const doubleData = list(t.doubleData) as number[];
  const int64Data = list(t.int64Data);
  const int32Data = list(t.int32Data) as number[];
  const count = dims.reduce((a, b) => a * b, 1);
  const hasData =
    raw !== undefined ||
    floatData.length + doubleData.length + int64Data.length + int32Data.length > 0 ||
    count === 0;
  const view = () => {
    const bytes = defined(raw, 'raw_data');
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  return {
    name: typeof t.name === 'string' ? t.name : '',
    dims,
    dataType,
    hasData,
    floats() {
      const out = new Float32Array(count);
      if (dataType === ONNX_FLOAT) {
        if (raw) for (let i = 0; i < count; i++) out[i] = view().getFloat32(i * 4, true);
        else out.set(floatData.slice(0, count));
      } else if (dataType === ONNX_DOUBLE) {
        if (raw) for (let i = 0; i < count; i++) out[i] = view().getFloat64(i * 8, true);
        else out.set(doubleData.slice(0, count));
      } else {
        out.set(this.ints().slice(0, count));
      }
      return out;
    },
    ints() {
      if (dataType === ONNX_INT64)
        return raw
          ? Array.from({ length: count }, (_, i) => Number(view().getBigInt64(i * 8, true)))
          : int64Data.map(num);
      if (dataType === ONNX_INT32)
        return raw ? Array.from({ length: count }, (_, i) => view().getInt32(i * 4, true)) : int32Data;
      return Array.from(this.floats());
    },
  };
}

// AttributeProto.AttributeType
const FLOAT = 1;
const INT = 2;
const STRING = 3;
const TENSOR = 4;
const FLOATS = 6;
const INTS = 7;

function attribute(a: Json): OnnxAttribute {
  switch (num(a.type)) {
    case FLOAT:
      return { type: 'float', value: Number(a.f ?? 0) };
    case INT:
      return { type: 'int', value: num(a.i) };
    case STRING:
      return { type: 'string', value: text(a.s) };
    case TENSOR:
      return { type: 'tensor', value: tensor(a.t as Json) };
    case FLOATS:
      return { type: 'floats', value: list(a.floats).map(Number) };
    case INTS:
      return { type: 'ints', value: list(a.ints).map(num) };
    default:
      return { type: 'other', value: a.type };
  }
}

function valueInfo(v: Json): OnnxValueInfo {
  const tensorType = ((v.type as Json | undefined)?.tensorType ?? {}) as Json;
  const dims = list((tensorType.shape as Json | undefined)?.dim).map((d) => {
    const dim = d as Json;
    if (dim.dimValue !== undefined && dim.dimValue !== null) return num(dim.dimValue);
    return typeof dim.dimParam === 'string' && dim.dimParam !== '' ? dim.dimParam : undefined;
  });
  return { name: String(v.name ?? ''), elemType: num(tensorType.elemType), dims };
}

/** Decodes an ONNX ModelProto; a file that is not one is a 400 naming what was found. */
export function readOnnxModel(bytes: Uint8Array, field = 'model'): OnnxModel {
  let decoded: Json;
  try {
    decoded = schema().decode(bytes) as unknown as Json;
  } catch (err) {
    throw new InvalidOnnxError(
      field,
      `${bytes.byteLength} bytes that are not protobuf (${(err as Error).message})`,
      'an ONNX model file (ModelProto)',
    );
  }
  const graph = decoded.graph as Json | undefined;
  if (!graph || list(graph.node).length === 0) {
    throw new InvalidOnnxError(
      field,
      `${bytes.byteLength} bytes without a graph`,
      'an ONNX model file (ModelProto) with a graph of nodes',
    );
  }
  const opsets = list(decoded.opsetImport) as Json[];
  const defaultOpset = opsets.find((o) => !o.domain || o.domain === 'ai.onnx');
  const initializers = new Map<string, OnnxTensor>();
  for (const t of list(graph.initializer) as Json[]) {
    const parsed = tensor(t);
    initializers.set(parsed.name, parsed);
  }
  return {
    irVersion: num(decoded.irVersion),
    opset: defaultOpset ? num(defaultOpset.version) : 1,
    producer: `${text(decoded.producerName)} ${text(decoded.producerVersion)}`.trim(),
    graphName: text(graph.name) || 'onnx_model',
    nodes: (list(graph.node) as Json[]).map((n) => ({
      opType: text(n.opType),
      domain: text(n.domain),
      name: text(n.name),
      inputs: list(n.input).map(text),
      outputs: list(n.output).map(text),
      attrs: new Map((list(n.attribute) as Json[]).map((a) => [text(a.name), attribute(a)])),
    })),
    initializers,
    inputs: (list(graph.input) as Json[]).map(valueInfo),
    outputs: (list(graph.output) as Json[]).map(valueInfo),
  };
}

/**
 * A copy of `bytes` with initializers added for graph inputs that only stood for weights
 * (`export_params=False`): `values` maps input names to float32 data. Used by tests and tools
 * that fill a weightless graph; the result is a normal ONNX file with its weights.
 */
export function withInitializers(
  bytes: Uint8Array,
  values: Map<string, { dims: number[]; data: Float32Array }>,
): Uint8Array {
  const type = schema();
  const model = type.decode(bytes) as unknown as { graph: { input: Json[]; initializer: Json[] } };
  model.graph.input = model.graph.input.filter((i) => !values.has(String(i.name)));
  for (const [name, t] of values) {
    const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    model.graph.initializer.push({ name, dims: t.dims, dataType: ONNX_FLOAT, rawData: raw });
  }
  return type.encode(model as never).finish();
}
