/**
 * Max pooling (valid windows over an already padded input) whose gradient goes, where several
 * cells of a window hold its maximum, to the first of them in row-major order, as PyTorch's does.
 * tfjs' own gradient gives a tie to the last cell on wasm and the first on cpu, and a pool over
 * pooled values (an Inception pool branch after a max pool) is full of ties, so Grad-CAM through
 * tfjs' gradient would depend on the backend and disagree with PyTorch.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The cell (di + i·sh, dj + j·sw) of every window (i, j), as [n, oh, ow, c]. */
function windowCell(
  x: tf.Tensor4D,
  [di, dj]: [number, number],
  [oh, ow]: [number, number],
  [sh, sw]: [number, number],
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  // Room for the reshape below: the rows and columns past the input are never read.
  const grown = tf.pad(x, [
    [0, 0],
    [0, Math.max(0, di + oh * sh - h)],
    [0, Math.max(0, dj + ow * sw - w)],
    [0, 0],
  ]);
  const block = tf.slice(grown, [0, di, dj, 0], [n, oh * sh, ow * sw, c]);
  const strided = tf.slice(tf.reshape(block, [n, oh, sh, ow, sw, c]), 0, [n, oh, 1, ow, 1, c]);
  return tf.reshape(strided, [n, oh, ow, c]);
}

/** The inverse of windowCell: each window's value put back at its cell, zeros elsewhere ([n, h, w, c]). */
function placeCell(
  v: tf.Tensor4D,
  [di, dj]: [number, number],
  [oh, ow]: [number, number],
  [sh, sw]: [number, number],
  [h, w]: [number, number],
): tf.Tensor4D {
  const [n, , , c] = v.shape;
  const spread = tf.reshape(
    tf.pad(tf.reshape(v, [n, oh, 1, ow, 1, c]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]),
    [n, oh * sh, ow * sw, c],
  );
  const grownH = Math.max(h, di + oh * sh);
  const grownW = Math.max(w, dj + ow * sw);
  const placed = tf.pad(spread, [
    [0, 0],
    [di, grownH - di - oh * sh],
    [dj, grownW - dj - ow * sw],
    [0, 0],
  ]);
  return tf.slice(placed as tf.Tensor4D, [0, 0, 0, 0], [n, h, w, c]);
}

/** Valid max pooling of `x` with PyTorch's gradient (see above). */
export function firstMaxPool(x: tf.Tensor4D, pool: [number, number], strides: [number, number]): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xp, save] = args as [tf.Tensor4D, tf.GradSaveFunc];
    const y = tf.maxPool(xp, pool, strides, 'valid');
    save([xp, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ys] = saved as [tf.Tensor4D, tf.Tensor4D];
        const out: [number, number] = [ys.shape[1], ys.shape[2]];
        const offsets: [number, number][] = [];
        for (let di = 0; di < pool[0]; di++) for (let dj = 0; dj < pool[1]; dj++) offsets.push([di, dj]);
        const size: [number, number] = [xs.shape[1], xs.shape[2]];
        // dy goes to each window's first cell equal to its maximum.
        let taken = tf.cast(tf.zerosLike(ys), 'bool');
        const parts = offsets.map((o) => {
          const first = tf.logicalAnd(tf.equal(windowCell(xs, o, out, strides), ys), tf.logicalNot(taken));
          taken = tf.logicalOr(taken, first);
          return placeCell(tf.mul(tf.cast(first, 'float32'), dy) as tf.Tensor4D, o, out, strides, size);
        });
        return tf.addN(parts) as tf.Tensor4D;
      },
    };
  });
  return op(x) as tf.Tensor4D;
}
