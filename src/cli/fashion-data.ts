/** Reads the Fashion-MNIST IDX files (gzip), as Debian's dataset-fashion-mnist and our fixtures ship them. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface FashionSet {
  images: Uint8Array[];
  labels: Uint8Array;
  rows: number;
  cols: number;
}

function idx(file: string): Buffer {
  const raw = readFileSync(file);
  return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
}

export function readFashionSet(dir: string, split: 'train' | 't10k'): FashionSet {
  const img = idx(path.join(dir, `${split}-images-idx3-ubyte.gz`));
  const lab = idx(path.join(dir, `${split}-labels-idx1-ubyte.gz`));
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049)
    throw new Error(`${dir}: not IDX image/label files`);
  const n = img.readUInt32BE(4);
  const rows = img.readUInt32BE(8);
  const cols = img.readUInt32BE(12);
  if (lab.readUInt32BE(4) !== n) throw new Error(`${dir}: ${n} images but ${lab.readUInt32BE(4)} labels`);
  const size = rows * cols;
  const images = Array.from(
    { length: n },
    (_, i) => new Uint8Array(img.buffer, img.byteOffset + 16 + i * size, size),
  );
  return { images, labels: new Uint8Array(lab.buffer, lab.byteOffset + 8, n), rows, cols };
}
