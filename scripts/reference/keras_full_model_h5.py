#!/usr/bin/python3
"""A Keras 2 *full-model* H5 (`model.save('m.h5')` layout), written with h5py, and its output
computed independently with NumPy.

Usage (from repo root):
    /usr/bin/python3 scripts/reference/keras_full_model_h5.py [outdir]
Default outdir: test/fixtures/served-files/keras-h5

Writes
  model.h5              root attrs keras_version, backend and model_config (the Functional config
                        as model.to_json() writes it); group model_weights with layer_names, and per
                        layer weight_names and the datasets `<layer>/<layer>/<weight>:0`
  config.json           the MODELS_DIR config naming only the file (no architecture)
  expected.safetensors  'input' (NHWC, 2x12x12x3), 'logits' (before the softmax) and 'probabilities' (2x4)

The model: InputLayer 12x12x3 → Conv2D(8, 3x3, "same", relu) → BatchNormalization(eps 1e-3)
→ DepthwiseConv2D(3x3, stride 2, "same") → ReLU(max_value=6) → GlobalAveragePooling2D
→ Dense(4, softmax). NumPy implements TensorFlow's "same" padding (the odd pixel at the bottom
and right) and each layer's formula directly; nothing of the project is used.
Weights: np.random.default_rng(7), values in sensible ranges (variances positive).
"""
import json
import os
import sys

import h5py
import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

rng = np.random.default_rng(7)
f32 = np.float32


def uniform(shape, lo, hi):
    return rng.uniform(lo, hi, size=shape).astype(f32)


W = {
    "conv": {"kernel": uniform((3, 3, 3, 8), -1, 1), "bias": uniform((8,), -0.1, 0.1)},
    "bn": {"gamma": uniform((8,), 0.5, 1.5), "beta": uniform((8,), -0.1, 0.1),
           "moving_mean": uniform((8,), -0.1, 0.1), "moving_variance": uniform((8,), 0.5, 1.5)},
    "dw": {"depthwise_kernel": uniform((3, 3, 8, 1), -1, 1), "bias": uniform((8,), -0.1, 0.1)},
    "predictions": {"kernel": uniform((8, 4), -2, 2), "bias": uniform((4,), -0.1, 0.1)},
}


def layer(cls, name, config, inbound):
    return {"class_name": cls, "config": {"name": name, "trainable": True, "dtype": "float32", **config},
            "name": name, "inbound_nodes": [[[i, 0, 0, {}] for i in inbound]] if inbound else []}


CONFIG = {
    "class_name": "Functional",
    "config": {
        "name": "small_mobile",
        "layers": [
            layer("InputLayer", "input_1", {"batch_input_shape": [None, 12, 12, 3], "sparse": False, "ragged": False}, []),
            layer("Conv2D", "conv", {"filters": 8, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                                     "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
                                     "activation": "relu", "use_bias": True}, ["input_1"]),
            layer("BatchNormalization", "bn", {"axis": [3], "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True}, ["conv"]),
            layer("DepthwiseConv2D", "dw", {"kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
                                           "data_format": "channels_last", "dilation_rate": [1, 1], "depth_multiplier": 1,
                                           "activation": "linear", "use_bias": True}, ["bn"]),
            layer("ReLU", "relu6", {"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}, ["dw"]),
            layer("GlobalAveragePooling2D", "pool", {"data_format": "channels_last", "keepdims": False}, ["relu6"]),
            layer("Dense", "predictions", {"units": 4, "activation": "softmax", "use_bias": True}, ["pool"]),
        ],
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["predictions", 0, 0]],
    },
    "keras_version": "2.12.0",
    "backend": "tensorflow",
}


def same_pad(x, k, s):
    """TensorFlow's SAME: out = ceil(in/s); the odd padding pixel goes at the bottom/right."""
    n, h, w, c = x.shape
    def pads(size):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        return total // 2, total - total // 2
    (t, b), (l, r) = pads(h), pads(w)
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def conv(x, kernel, bias, s):
    k = kernel.shape[0]
    xp = same_pad(x, k, s).astype(np.float64)
    n, hp, wp, _ = xp.shape
    oh, ow = (hp - k) // s + 1, (wp - k) // s + 1
    out = np.zeros((n, oh, ow, kernel.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * s:i * s + k, j * s:j * s + k, :]
            out[:, i, j, :] = np.tensordot(patch, kernel.astype(np.float64), axes=([1, 2, 3], [0, 1, 2]))
    return out + bias


def depthwise(x, kernel, bias, s):
    k = kernel.shape[0]
    xp = same_pad(x, k, s).astype(np.float64)
    n, hp, wp, c = xp.shape
    oh, ow = (hp - k) // s + 1, (wp - k) // s + 1
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * s:i * s + k, j * s:j * s + k, :]
            out[:, i, j, :] = (patch * kernel[:, :, :, 0]).sum(axis=(1, 2))
    return out + bias


def forward(x):
    y = np.maximum(conv(x, W["conv"]["kernel"], W["conv"]["bias"], 1), 0)
    bn = W["bn"]
    y = (y - bn["moving_mean"]) / np.sqrt(bn["moving_variance"].astype(np.float64) + 1e-3) * bn["gamma"] + bn["beta"]
    y = np.clip(depthwise(y, W["dw"]["depthwise_kernel"], W["dw"]["bias"], 2), 0, 6)
    y = y.mean(axis=(1, 2))
    z = y @ W["predictions"]["kernel"].astype(np.float64) + W["predictions"]["bias"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return z, e / e.sum(axis=1, keepdims=True)


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "test", "fixtures", "served-files", "keras-h5")
    os.makedirs(outdir, exist_ok=True)
    with h5py.File(os.path.join(outdir, "model.h5"), "w") as f:
        f.attrs["keras_version"] = np.bytes_(b"2.12.0")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["model_config"] = json.dumps(CONFIG)
        g = f.create_group("model_weights")
        names = [l["name"] for l in CONFIG["config"]["layers"]]
        g.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            lg = g.create_group(name)
            weights = W.get(name, {})
            lg.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w in weights]) if weights else np.array([])
            for w, value in weights.items():
                lg.create_dataset(f"{name}/{w}:0", data=value)
    with open(os.path.join(outdir, "config.json"), "w") as f:
        json.dump({"weights": "model.h5", "preprocess": "unit"}, f, indent=1)
        f.write("\n")
    x = np.random.default_rng(8).uniform(-1, 1, size=(2, 12, 12, 3)).astype(f32)
    logits, probs = forward(x)
    write_safetensors(os.path.join(outdir, "expected.safetensors"),
                      [("input", x), ("logits", logits.astype(f32)), ("probabilities", probs.astype(f32))],
                      {"generator": "scripts/reference/keras_full_model_h5.py"})
    print("wrote", outdir, "logits", logits.round(3).tolist())


if __name__ == "__main__":
    main()
