#!/usr/bin/python3
"""Keras-2 style H5 *weights* fixture (as written by keras.engine.saving
save_weights_to_hdf5_group, Keras 2.2.4), built directly with h5py.

Usage (from repo root):
    /usr/bin/python3 scripts/reference/keras_h5.py [outdir]
Default outdir: test/fixtures/keras

Architecture (Keras layer names):
  input_1      InputLayer        (no weights)
  conv1_conv   Conv2D 3x3 1->8, bias   kernel HWIO [3,3,1,8], bias [8]
  conv1_bn     BatchNormalization(8)   gamma, beta, moving_mean, moving_variance [8]
  conv1_relu   Activation relu   (no weights)
  pool         GlobalAveragePooling2D (no weights)
  predictions  Dense 8->3, bias        kernel [8,3] (in,out), bias [3]

Values: value = layerIndex*1000 + weightIndex*100 + flatIndex (float32),
layerIndex = position in root attr layer_names (input_1 = 0),
weightIndex = position in the layer's weight_names, flatIndex = C-order
index into the stored array. Every value identifies its own position.
"""
import json
import os
import sys

import h5py
import numpy as np

LAYERS = [
    ("input_1", []),
    ("conv1_conv", [("kernel", (3, 3, 1, 8)), ("bias", (8,))]),
    ("conv1_bn", [("gamma", (8,)), ("beta", (8,)), ("moving_mean", (8,)),
                  ("moving_variance", (8,))]),
    ("conv1_relu", []),
    ("pool", []),
    ("predictions", [("kernel", (8, 3)), ("bias", (3,))]),
]


def values_for(layer_idx, weight_idx, shape):
    n = int(np.prod(shape))
    assert n < 100
    return (layer_idx * 1000 + weight_idx * 100 + np.arange(n, dtype=np.float64)) \
        .astype(np.float32).reshape(shape)


def write(path):
    expected = []
    with h5py.File(path, "w") as f:
        # As Keras 2.2.4 + h5py 2.x wrote them: np.asarray(list of bytes) gives
        # fixed-length byte strings ('S<n>', NUL-padded, ASCII); an empty list
        # gives float64 shape (0,). (h5py 3 would store a plain Python list of
        # bytes as variable-length strings, so convert explicitly.)
        f.attrs["layer_names"] = np.array([name.encode("utf8") for name, _ in LAYERS])
        f.attrs["backend"] = np.bytes_("tensorflow".encode("utf8"))
        f.attrs["keras_version"] = np.bytes_("2.2.4".encode("utf8"))
        for li, (lname, weights) in enumerate(LAYERS):
            g = f.create_group(lname)
            wnames = [f"{lname}/{w}:0".encode("utf8") for w, _ in weights]
            g.attrs["weight_names"] = np.array(wnames) if wnames else np.array([])
            for wi, ((w, shape), wname) in enumerate(zip(weights, wnames)):
                val = values_for(li, wi, shape)
                d = g.create_dataset(wname, val.shape, dtype=val.dtype)
                d[:] = val
                expected.append({
                    "key": f"{lname}/{w}",
                    "dataset": f"/{lname}/{lname}/{w}:0",
                    "layer": lname, "layerIndex": li, "weightIndex": wi,
                    "shape": list(shape), "dtype": "float32",
                    "first3": [float(v) for v in val.ravel()[:3]],
                    "sum": float(val.astype(np.float64).sum()),
                    "values": [float(v) for v in val.ravel()],
                })
    return expected


def verify(path, expected):
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f.attrs["layer_names"]]
        assert names == [n for n, _ in LAYERS], names
        assert f.attrs["backend"] == b"tensorflow"
        assert f.attrs["keras_version"] == b"2.2.4"
        got = []
        for lname in names:
            wn = f[lname].attrs["weight_names"]
            for w in wn:
                w = w.decode()
                arr = f[lname][w][()]
                got.append((w[:-2], list(arr.shape), float(arr.astype(np.float64).sum())))
        exp = [(e["key"], e["shape"], e["sum"]) for e in expected]
        assert got == exp, (got, exp)
        empty = f["pool"].attrs["weight_names"]
        for key in ("backend", "keras_version"):
            assert f.attrs.get_id(key).get_type().is_variable_str() is False
        assert f.attrs.get_id("layer_names").get_type().is_variable_str() is False
        assert f["conv1_conv"].attrs.get_id("weight_names").get_type().is_variable_str() is False
        return str(f.attrs["layer_names"].dtype), str(empty.dtype), empty.shape


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "test", "fixtures", "keras")
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, "small_resnet_like.h5")
    expected = write(path)
    ln_dtype, empty_dtype, empty_shape = verify(path, expected)
    doc = {
        "generator": "scripts/reference/keras_h5.py",
        "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
        "file": "small_resnet_like.h5",
        "valueRule": "layerIndex*1000 + weightIndex*100 + flatIndex (C order), float32",
        "rootAttrs": {"layer_names": [n for n, _ in LAYERS], "backend": "tensorflow",
                      "keras_version": "2.2.4", "layer_names_dtype": ln_dtype},
        "weightlessLayers": [n for n, w in LAYERS if not w],
        "emptyWeightNamesAttr": {"dtype": empty_dtype, "shape": list(empty_shape)},
        "weights": expected,
    }
    with open(os.path.join(outdir, "small_resnet_like.expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    data = open(path, "rb").read()
    trunc = os.path.join(outdir, "truncated.h5")
    with open(trunc, "wb") as f:
        f.write(data[: len(data) // 2])
    try:
        h5py.File(trunc, "r").close()
        print("note: h5py can still open truncated.h5 (its superblock survives)")
    except Exception as e:  # expected
        print("truncated.h5 rejected by h5py:", type(e).__name__, str(e).splitlines()[0][:100])
    print(f"wrote {path} ({len(data)} bytes), truncated.h5 ({len(data)//2} bytes), "
          f"{len(expected)} weights; layer_names dtype {ln_dtype}, empty weight_names {empty_dtype}{empty_shape}")


if __name__ == "__main__":
    main()
