#!/usr/bin/python3
"""ONNX fixtures: seven torchvision models exported by Debian's PyTorch, with independent counts.

Usage (from repo root):
    /usr/bin/python3 scripts/reference/torch_onnx_exports.py [outdir]
Default outdir: test/fixtures/onnx

For each model writes
  <name>.graph.onnx           torch.onnx.export, opset 13, batch axis dynamic, batch norm kept as
                              BatchNormalization (training=PRESERVE on an eval model, so the exporter
                              does not fold it into the convs) and export_params=False: the weights are
                              graph inputs with their shapes and no values, so the file is small
  <name>.counts.json          PyTorch's own counts by forward hooks: every Conv2d, BatchNorm2d and
                              Linear with its output shape, parameters and MACs, and the totals
  <name>.output.safetensors   PyTorch's logits for the seeded input, with the seeded weights the test
                              fills into the graph (see seeded.py); the keys are the graph's weight inputs
Weights: seeded_state_dict(keys in state_dict order, WEIGHT_SEED); they also keep the exporter from
merging equal initial values (it deduplicates identical parameters). Inputs: NHWC, seeded_input.
inception_v3 and googlenet are built without their auxiliary heads (they only run in training, so
the exported graph does not hold them and neither do the counts). No downloads.
"""
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from torchvision import models

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402
from seeded import seeded_input, seeded_state_dict  # noqa: E402

WEIGHT_SEED = 20261201
INPUT_SEED = 1201
OPSET = 13

MODELS = {
    "resnet18": (lambda: models.resnet18(weights=None), 224),
    "resnet50": (lambda: models.resnet50(weights=None), 224),
    "googlenet": (lambda: models.googlenet(weights=None, aux_logits=False, init_weights=False, transform_input=False), 224),
    "inception_v3": (lambda: models.inception_v3(weights=None, aux_logits=False, init_weights=False, transform_input=False), 299),
    "mobilenet_v2": (lambda: models.mobilenet_v2(weights=None), 224),
    "mobilenet_v3_small": (lambda: models.mobilenet_v3_small(weights=None), 224),
    "efficientnet_b0": (lambda: models.efficientnet_b0(weights=None), 224),
}


def hwc(shape):
    s = list(shape)
    return [s[2], s[3], s[1]] if len(s) == 4 else s[1:]


def hook_counts(model, size):
    rows = []
    handles = []
    for path, m in model.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
            continue

        def hook(mod, inp, out, path=path):
            params = sum(p.numel() for p in mod.parameters(recurse=False))
            buffers = sum(b.numel() for n, b in mod.named_buffers(recurse=False) if n in ("running_mean", "running_var"))
            if isinstance(mod, nn.Conv2d):
                _, cout, h, w = out.shape
                macs = h * w * cout * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
            elif isinstance(mod, nn.Linear):
                macs = mod.in_features * mod.out_features
            else:
                macs = 0
            rows.append({"path": path, "type": type(mod).__name__, "outputShape": hwc(out.shape),
                         "params": params, "buffers": buffers, "macs": macs})
        handles.append(m.register_forward_hook(hook))
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(r["buffers"] for r in rows),
        "macs": sum(r["macs"] for r in rows),
        "layers": rows,
    }


def run(name, outdir):
    factory, size = MODELS[name]
    model = factory().eval()
    keys = [(k, list(v.shape)) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    values = seeded_state_dict(keys, WEIGHT_SEED)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in values.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)

    path = os.path.join(outdir, f"{name}.graph.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, size, size), path, opset_version=OPSET, export_params=False,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    graph = onnx.load(path)
    onnx.checker.check_model(graph)
    weight_inputs = [i.name for i in graph.graph.input][1:]
    assert sorted(weight_inputs) == sorted(k for k, _ in keys), "every weight is a named graph input"

    counts = hook_counts(model, size)
    counts.update({"torch": torch.__version__, "torchvision": torchvision.__version__,
                   "generator": "scripts/reference/torch_onnx_exports.py", "model": name,
                   "input": [size, size, 3], "opset": OPSET,
                   "weightSeed": WEIGHT_SEED, "inputSeed": INPUT_SEED, "inputShape": [2, size, size, 3],
                   "keys": keys})

    x_nhwc = seeded_input([2, size, size, 3], INPUT_SEED)
    with torch.no_grad():
        y = model(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2).contiguous())
    counts["outputShape"] = list(y.shape)
    with open(os.path.join(outdir, f"{name}.counts.json"), "w") as f:
        json.dump(counts, f, indent=0)
        f.write("\n")
    write_safetensors(os.path.join(outdir, f"{name}.output.safetensors"), [("output", y.numpy().astype(np.float32))],
                      {"generator": counts["generator"], "model": name})
    spread = (y[0] - y[1]).abs().max().item()
    print(f"{name:<20} {os.path.getsize(path):>8,} bytes  params={counts['params']:>10,}  macs={counts['macs']:>14,}  "
          f"|out|max={y.abs().max().item():.4g} image0-vs-image1={spread:.3g}")


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "test", "fixtures", "onnx")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    for name in MODELS:
        run(name, outdir)


if __name__ == "__main__":
    main()
