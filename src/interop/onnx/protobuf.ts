/**
 * A minimal protobuf *writer*: just the three wire types ONNX needs (varint, 32-bit and
 * length-delimited). Nothing here reads protobuf.
 *
 * A message keeps its bytes as a list of chunks; a nested message is spliced in behind its length
 * prefix without copying, so a 100 MB weight tensor is copied once, when the outermost message is
 * finished, however deep it sits (tensor → graph → model).
 */

/** Wire types (protobuf encoding spec): the low three bits of every field tag. */
const VARINT = 0;
const FIXED32 = 5;
const LEN = 2;

const TWO_POW_64 = 1n << 64n;

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  /** Small writes (tags, varints) gather here and become one chunk when a big chunk follows. */
  private pending: number[] = [];
  private size = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.size;
  }

  /** Varint-encoded unsigned value; a negative int64 is written as its 64-bit two's complement (10 bytes). */
  private varint(value: number | bigint): void {
    if (typeof value === 'number') {
      if (!Number.isSafeInteger(value))
        throw new RangeError(`protobuf varint: ${value} is not a safe integer`);
      if (value < 0) {
        this.varint(BigInt(value));
        return;
      }
      while (value >= 0x80) {
        this.pending.push((value % 0x80) | 0x80);
        value = Math.floor(value / 0x80);
        this.size++;
      }
      this.pending.push(value);
      this.size++;
      return;
    }
    let v = value < 0n ? value + TWO_POW_64 : value;
    if (v < 0n || v >= TWO_POW_64) throw new RangeError(`protobuf varint: ${value} does not fit in 64 bits`);
    while (v >= 0x80n) {
      this.pending.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
      this.size++;
    }
    this.pending.push(Number(v));
    this.size++;
  }

  private tag(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field >= 2 ** 29)
      throw new RangeError(`protobuf field number ${field}`);
    this.varint(field * 8 + wireType);
  }

  private flush(): void {
    if (this.pending.length) {
      this.chunks.push(Uint8Array.from(this.pending));
      this.pending = [];
    }
  }

  /** Appends bytes as they are, without a tag (the payload of a length-delimited field). */
  private raw(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (bytes.length < 64) {
      for (const b of bytes) this.pending.push(b);
    } else {
      this.flush();
      this.chunks.push(bytes);
    }
    this.size += bytes.length;
  }

  /** int32, int64, uint64, bool and enum fields. */
  int(field: number, value: number | bigint): this {
    this.tag(field, VARINT);
    this.varint(value);
    return this;
  }

  /** A `float` field (fixed 32-bit, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.raw(b);
    return this;
  }

  /** A `bytes` field. The array is referenced, not copied, until `finish()`. */
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, LEN);
    this.varint(data.length);
    this.raw(data);
    return this;
  }

  /** A `string` field, UTF-8 encoded. */
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** An embedded message field. */
  message(field: number, sub: ProtoWriter): this {
    this.tag(field, LEN);
    this.varint(sub.size);
    sub.flush();
    for (const chunk of sub.chunks) this.raw(chunk);
    return this;
  }

  /** A packed `repeated float` field: one length-delimited run of little-endian 32-bit floats. */
  packedFloats(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(values.length * 4);
    const view = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    return this.bytes(field, b);
  }

  /** A packed `repeated int32/int64` field: one length-delimited run of varints. */
  packedInts(field: number, values: ArrayLike<number | bigint>): this {
    const body = new ProtoWriter();
    for (let i = 0; i < values.length; i++) body.varint(values[i]);
    return this.message(field, body);
  }

  /** The encoded message: all chunks copied once into one array. */
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}
