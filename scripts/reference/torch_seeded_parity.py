#!/usr/bin/python3
"""Parity fixtures for whole torchvision models with seeded weights (see seeded.py).

Usage (from repo root):
    /usr/bin/python3 scripts/reference/torch_seeded_parity.py [outdir]
Default outdir: test/fixtures/torch/seeded

For each model writes
  <name>.json                 the state_dict keys and shapes in order (no values), the seeds, the
                              input shape (NHWC) and PyTorch's output shape
  <name>.output.safetensors   PyTorch's logits for the seeded input ('output', float32)
The test regenerates the weights and the input from the seeds (test/helpers/seeded.ts), binds the
weights by their torchvision keys and compares both engines' logits with these.
Eval mode, float32, torch.set_num_threads(2). No downloads.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision import models

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402
from seeded import seeded_input, seeded_state_dict  # noqa: E402

WEIGHT_SEED = 20261201
INPUT_SEED = 1201
INPUT_NHWC = [2, 224, 224, 3]

MODELS = ["mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0"]


def run(name, outdir):
    model = getattr(models, name)(weights=None, num_classes=1000).eval()
    sd = model.state_dict()
    keys = [(k, list(v.shape)) for k, v in sd.items() if not k.endswith("num_batches_tracked")]
    values = seeded_state_dict(keys, WEIGHT_SEED)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in values.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    x_nhwc = seeded_input(INPUT_NHWC, INPUT_SEED)
    x = torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        y = model(x)
        y64 = __import__("copy").deepcopy(model).double()(x.double())
    err32 = (y.double() - y64).abs().max().item()
    scale = y64.abs().max().item()
    spread = (y[0] - y[1]).abs().max().item()
    doc = {
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "generator": "scripts/reference/torch_seeded_parity.py", "model": name,
        "weightSeed": WEIGHT_SEED, "inputSeed": INPUT_SEED, "inputShape": INPUT_NHWC,
        "outputShape": list(y.shape), "maxAbsOutput": scale, "maxAbsErrFloat32VsFloat64": err32,
        "keys": keys,
    }
    with open(os.path.join(outdir, f"{name}.json"), "w") as f:
        json.dump(doc, f, indent=0)
        f.write("\n")
    write_safetensors(os.path.join(outdir, f"{name}.output.safetensors"), [("output", y.numpy().astype(np.float32))],
                      {"generator": doc["generator"], "model": name})
    print(f"{name:<20} tensors={len(keys):>4} |out|max={scale:.4g} f32-vs-f64={err32:.2e} image0-vs-image1={spread:.3g}")


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "test", "fixtures", "torch", "seeded")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    for name in MODELS:
        run(name, outdir)


if __name__ == "__main__":
    main()
