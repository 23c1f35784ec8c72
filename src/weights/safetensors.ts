/**
 * safetensors reader (https://github.com/huggingface/safetensors format): u64 little-endian header
 * length, a JSON header {key: {dtype, shape, data_offsets}}, then the raw bytes. Every offset is
 * checked against the file before any data is read, so a truncated or forged file is an error.
 */
import { WeightsError, type RawTensor } from './types.js';

const MAX_HEADER = 100 * 1024 * 1024;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const DECODERS: Record<string, { bytes: number; read: (view: DataView, offset: number) => number }> = {
  F32: { bytes: 4, read: (v, o) => v.getFloat32(o, true) },
  F64: { bytes: 8, read: (v, o) => v.getFloat64(o, true) },
  F16: { bytes: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)) },
  BF16: {
    bytes: 2,
    read: (v, o) => new Float32Array(new Uint32Array([v.getUint16(o, true) << 16]).buffer)[0],
  },
};

/** `bytes` may be the start of a file of `fileLength` bytes: a header longer than the start still counts. */
export function isSafetensors(bytes: Uint8Array, fileLength = bytes.length): boolean {
  if (bytes.length < 10) return false;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return n > 1 && n <= Math.min(MAX_HEADER, fileLength - 8) && bytes[8] === 0x7b; // '{'
}

export function readSafetensors(
  bytes: Uint8Array,
  skip: (key: string) => boolean = () => false,
): Map<string, RawTensor> {
  if (bytes.length < 8)
    throw new WeightsError(`safetensors: file is ${bytes.length} bytes, too short for a header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.length) {
    throw new WeightsError(
      `safetensors: header length ${headerLength} exceeds the file size ${bytes.length} (truncated or not safetensors)`,
    );
  }
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw new WeightsError('safetensors: header is not valid JSON (not a safetensors file?)');
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, RawTensor>();
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__' || skip(key)) continue;
    const decoder = DECODERS[entry?.dtype];
    if (!decoder)
      throw new WeightsError(
        `safetensors: ${key} has dtype ${entry?.dtype}; supported: ${Object.keys(DECODERS).join(', ')}`,
      );
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = entry.data_offsets;
    if (!Number.isInteger(begin) || end - begin !== count * decoder.bytes || dataStart + end > bytes.length) {
      throw new WeightsError(
        `safetensors: ${key} (${entry.dtype} ${JSON.stringify(entry.shape)}) has data_offsets [${begin}, ${end}] that do not fit the ${bytes.length}-byte file (truncated?)`,
      );
    }
    let data: Float32Array;
    if (entry.dtype === 'F32' && LITTLE_ENDIAN && (bytes.byteOffset + dataStart + begin) % 4 === 0) {
      // A view, not a copy: a copy of ResNet-50's 100 MB costs more in fresh pages than the read itself.
      data = new Float32Array(bytes.buffer, bytes.byteOffset + dataStart + begin, count);
    } else {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = decoder.read(view, dataStart + begin + i * decoder.bytes);
    }
    tensors.set(key, { shape: entry.shape, data });
  }
  return tensors;
}

/** Encodes float32 tensors as safetensors (header padded to 8 bytes, data in key order). */
export function writeSafetensors(
  tensors: Iterable<[string, RawTensor]>,
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [key, t] of tensors) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[key] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    chunks.push(bytes);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, Buffer.from(json), ...chunks]);
}
