"""Seeded pseudo-random tensors that TypeScript reproduces bit for bit (test/helpers/seeded.ts).

Big parity fixtures would otherwise mean committing tens of megabytes of random weights. Instead
both sides draw them from mulberry32 (the generator in bench/lib/random.ts), in state_dict order,
and only the keys, shapes and PyTorch's outputs are committed.

mulberry32's state advances by a constant, so draw i is a closed-form function of i and the
stream is computed vectorised. Every value is lo + (hi - lo) * u in float64 (u = draw / 2**32),
rounded once to float32; IEEE arithmetic makes that identical in Python and JavaScript.

Per tensor, by its state_dict name and shape:
  conv / linear weight (2+ dims)  U(-sqrt(6/fan_in), sqrt(6/fan_in))   (He-uniform: keeps the scale)
  batch-norm weight, running_var  U(0.5, 1.5)
  everything else (biases, bn bias, running_mean)  U(-0.1, 0.1)
"""
import math

import numpy as np

M32 = 0xFFFFFFFF


def mulberry32(seed, start, n):
    """Draws start .. start+n-1 (0-based) of mulberry32(seed), as float64 in [0, 1)."""
    i = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    s = (np.uint64(seed & M32) + i * np.uint64(0x6D2B79F5)) & np.uint64(M32)
    r = ((s ^ (s >> np.uint64(15))) * (np.uint64(1) | s)) & np.uint64(M32)
    r = ((r + (((r ^ (r >> np.uint64(7))) * (np.uint64(61) | r)) & np.uint64(M32))) & np.uint64(M32)) ^ r
    r = (r ^ (r >> np.uint64(14))) & np.uint64(M32)
    return r.astype(np.float64) / 4294967296.0


def bounds(key, shape):
    if len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        b = math.sqrt(6.0 / fan_in)
        return -b, b
    if key.endswith("running_var") or (key.endswith(".weight") and len(shape) == 1):
        return 0.5, 1.5
    return -0.1, 0.1


class Stream:
    def __init__(self, seed):
        self.seed = seed
        self.drawn = 0

    def uniform(self, shape, lo, hi):
        n = int(np.prod(shape)) if len(shape) else 1
        u = mulberry32(self.seed, self.drawn, n)
        self.drawn += n
        return (lo + (hi - lo) * u).astype(np.float32).reshape(shape)


def seeded_state_dict(keys_and_shapes, seed):
    """{key: float32 array} for [(key, shape)] in order, from one stream."""
    stream = Stream(seed)
    out = {}
    for key, shape in keys_and_shapes:
        lo, hi = bounds(key, shape)
        out[key] = stream.uniform(list(shape), lo, hi)
    return out


def seeded_input(shape, seed):
    """An NCHW or NHWC input in U(-1, 1)."""
    return Stream(seed).uniform(list(shape), -1.0, 1.0)
