/** Layout conversion of dense row-major tensors (PyTorch ↔ ours, ours ↔ ONNX). */
/** Permutes a dense row-major array: out[perm-indexed] = in, e.g. OIHW → HWIO with perm [2,3,1,0]. */
export function permute(
  data: Float32Array,
  shape: number[],
  perm: number[],
): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]);
  const rank = shape.length;
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const out = new Float32Array(data.length);
  if (rank === 4) {
    permute4(
      data,
      out,
      outShape,
      perm.map((p) => inStrides[p]),
    );
    return { data: out, shape: outShape };
  }
  const idx = new Array<number>(rank).fill(0);
  const permStrides = perm.map((p) => inStrides[p]);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * permStrides[d];
    out[o] = data[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/**
 * Permutes a rank-4 array where it is, through `scratch` (at least as long, reused across calls):
 * the layout change of a kernel the caller owns (an engine built from a freshly read file), without
 * a fresh array per kernel. Returns the permuted shape.
 */
export function permute4InPlace(
  data: Float32Array,
  shape: number[],
  perm: number[],
  scratch: Float32Array,
): number[] {
  if (shape.length !== 4 || scratch.length < data.length)
    throw new RangeError(`permute4InPlace: shape [${shape.join(', ')}], scratch of ${scratch.length}`);
  const source = scratch.subarray(0, data.length);
  source.set(data);
  const strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const outShape = perm.map((p) => shape[p]);
  permute4(
    source,
    data,
    outShape,
    perm.map((p) => strides[p]),
  );
  return outShape;
}

/**
 * Rank 4 (every conv kernel) as four plain loops: the general walk above costs ~2 s on ResNet-50's
 * 25M weights, which a model load pays in every worker.
 */
function permute4(data: Float32Array, out: Float32Array, shape: number[], strides: number[]): void {
  const [n0, n1, n2, n3] = shape;
  const [s0, s1, s2, s3] = strides;
  let o = 0;
  for (let a = 0; a < n0; a++)
    for (let b = 0; b < n1; b++)
      for (let c = 0; c < n2; c++) {
        const base = a * s0 + b * s1 + c * s2;
        for (let d = 0; d < n3; d++) out[o++] = data[base + d * s3];
      }
}
