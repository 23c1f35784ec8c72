// Which kind of model file a served folder holds, judged by its bytes (src/interop/model-files.ts).
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { modelFileFormat } from '../../src/interop/model-files.js';

const dir = mkdtempSync(path.join(tmpdir(), 'model-files-'));

/** A safetensors file whose JSON header is exactly `headerLength` bytes (space-padded, as the format allows). */
function safetensors(headerLength: number): string {
  const json = JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
  const header = Buffer.from(json.padEnd(headerLength, ' '));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerLength));
  const file = path.join(dir, `w${headerLength}.safetensors`);
  writeFileSync(file, Buffer.concat([length, header, Buffer.alloc(4)]));
  return file;
}

t.test('safetensors weights are not taken for ONNX, whatever their header length', async (t) => {
  // 0x1008 = 4104: the length's first byte is 0x08, as an ONNX file's first byte is, and the header
  // runs past the 4 KB the format sniffer reads.
  for (const n of [0x108, 0x1008, 0x2008])
    t.equal(await modelFileFormat(safetensors(n)), undefined, `header of ${n}`);
});

t.test('an ONNX file is recognised', async (t) => {
  const onnx = fileURLToPath(new URL('../fixtures/onnx/resnet18.graph.onnx', import.meta.url));
  t.equal(await modelFileFormat(onnx), 'onnx');
});
