// The protobuf writer against the byte sequences worked out in the protobuf encoding guide
// (varint 150 → 08 96 01, the "testing" string, the nested message, the packed repeated field),
// plus the cases ONNX needs beyond them: negative int64, fixed32 floats, long length prefixes and
// large byte chunks passed through untouched.
import t from 'tap';
import { ProtoWriter } from '../../../src/interop/onnx/protobuf.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

t.test('varints', async (t) => {
  t.equal(hex(new ProtoWriter().int(1, 150).finish()), '089601', 'field 1 = 150');
  t.equal(hex(new ProtoWriter().int(1, 300).finish()), '08ac02', 'field 1 = 300');
  t.equal(hex(new ProtoWriter().int(1, 0).finish()), '0800', 'zero is one byte');
  t.equal(hex(new ProtoWriter().int(1, 2 ** 53 - 1).finish()), '08ffffffffffffff0f', 'largest safe integer');
  t.equal(
    hex(new ProtoWriter().int(1, -1).finish()),
    '08ffffffffffffffffff01',
    'int64 −1: ten bytes of two’s complement',
  );
  t.equal(hex(new ProtoWriter().int(1, -2n).finish()), '08feffffffffffffffff01', 'bigint −2');
  t.equal(hex(new ProtoWriter().int(20, 7).finish()), 'a00107', 'field 20 needs a two-byte tag');
  t.throws(() => new ProtoWriter().int(1, 1.5), RangeError, 'non-integers refused');
  t.throws(() => new ProtoWriter().int(1, 2n ** 64n), RangeError, 'beyond 64 bits refused');
});

t.test('length-delimited fields', async (t) => {
  t.equal(hex(new ProtoWriter().string(2, 'testing').finish()), '120774657374696e67', 'string');
  t.equal(
    hex(new ProtoWriter().message(3, new ProtoWriter().int(1, 150)).finish()),
    '1a03089601',
    'embedded message',
  );
  t.equal(
    hex(new ProtoWriter().packedInts(4, [3, 270, 86942]).finish()),
    '2206038e029ea705',
    'packed repeated int',
  );
  t.equal(hex(new ProtoWriter().string(1, 'é').finish()), '0a02c3a9', 'UTF-8');
  const big = new Uint8Array(300).map((_, i) => i % 251);
  const out = new ProtoWriter().bytes(9, big).finish();
  t.equal(hex(out.subarray(0, 3)), '4aac02', 'tag then length 300 as a two-byte varint');
  t.same(out.subarray(3), big, 'payload unchanged');
  t.equal(out.length, 303);
});

t.test('floats', async (t) => {
  t.equal(hex(new ProtoWriter().float(2, 1).finish()), '150000803f', 'fixed32, little-endian');
  t.equal(hex(new ProtoWriter().packedFloats(4, [1, -2]).finish()), '22080000803f000000c0', 'packed floats');
});

t.test('nesting keeps order and lengths through several levels', async (t) => {
  const payload = new Uint8Array(1000).fill(7);
  const inner = new ProtoWriter().int(1, 5).bytes(2, payload).string(3, 'x');
  const middle = new ProtoWriter().message(1, inner).int(2, 9);
  const outer = new ProtoWriter().string(1, 'm').message(2, middle);
  const bytes = outer.finish();
  t.equal(bytes.length, outer.length, '`length` is the encoded size');
  // inner: 08 05 | 12 e8 07 <1000> | 1a 01 78  = 2 + 3 + 1000 + 3 = 1008
  // middle: 0a f0 07 <1008> | 10 09              = 3 + 1008 + 2 = 1013
  // outer: 0a 01 6d | 12 f5 07 <1013>             = 3 + 3 + 1013 = 1019
  t.equal(bytes.length, 1019);
  t.equal(hex(bytes.subarray(0, 11)), '0a016d12f5070af0070805');
  t.equal(hex(bytes.subarray(11, 14)), '12e807');
  t.equal(hex(bytes.subarray(-5)), '1a01781009');
});
