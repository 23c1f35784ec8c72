#!/usr/bin/python3
"""Reference layer-by-layer shape / parameter / MAC counts from torchvision.

Usage (from repo root):
    /usr/bin/python3 scripts/reference/torch_counts.py [out.json]
Default output: test/fixtures/torch/counts.json

Random init only (weights=None); no downloads.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision
from torchvision import models

from torchvision.ops import StochasticDepth

LEAF_TYPES = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d,
              nn.AdaptiveAvgPool2d, nn.Linear, nn.Dropout, nn.Flatten,
              nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.Sigmoid, StochasticDepth)

EXPECTED = {  # trainable params, conv+linear MACs (torchvision docs / common refs)
    "resnet18": (11689512, 1814073344),
    "resnet34": (21797672, 3663761408),
    "resnet50": (25557032, 4089184256),
    "resnet101": (44549160, 7801405440),
    "resnet152": (60192808, 11513626624),
    "googlenet": (6624904, 1498376192),
}
# torchvision's docs give these only as "GFLOPS" (in fact GMACs) rounded to two decimals:
# exact parameters, MACs checked against the rounding.
EXPECTED_ROUNDED = {
    "mobilenet_v2": (3504872, 0.30),
    "mobilenet_v3_small": (2542856, 0.06),
    "efficientnet_b0": (5288548, 0.39),
}


def build(name):
    torch.manual_seed(0)
    if name == "googlenet":
        return models.googlenet(weights=None, aux_logits=False, init_weights=False,
                                transform_input=False, num_classes=1000)
    return getattr(models, name)(weights=None, num_classes=1000)


def shape_hwc(t):
    s = list(t.shape)
    if len(s) == 4:
        return [s[2], s[3], s[1]]
    if len(s) == 2:
        return [s[1]]
    return s[1:]


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def attrs(m):
    if isinstance(m, nn.Conv2d):
        return {"kernel": list(m.kernel_size), "stride": list(m.stride),
                "padding": m.padding if isinstance(m.padding, str) else list(m.padding),
                "dilation": list(m.dilation), "groups": m.groups,
                "bias": m.bias is not None,
                "inChannels": m.in_channels, "outChannels": m.out_channels}
    if isinstance(m, nn.MaxPool2d):
        return {"kernel": pair(m.kernel_size), "stride": pair(m.stride),
                "padding": pair(m.padding), "dilation": pair(m.dilation),
                "ceil_mode": bool(m.ceil_mode)}
    if isinstance(m, nn.AvgPool2d):
        return {"kernel": pair(m.kernel_size), "stride": pair(m.stride),
                "padding": pair(m.padding), "ceil_mode": bool(m.ceil_mode),
                "count_include_pad": bool(m.count_include_pad)}
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return {"output_size": pair(m.output_size)}
    if isinstance(m, nn.BatchNorm2d):
        return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}
    if isinstance(m, nn.Linear):
        return {"in_features": m.in_features, "out_features": m.out_features,
                "bias": m.bias is not None}
    if isinstance(m, nn.Dropout):
        return {"p": m.p}
    if isinstance(m, nn.ReLU):
        return {"inplace": m.inplace}
    if isinstance(m, nn.Flatten):
        return {"start_dim": m.start_dim, "end_dim": m.end_dim}
    return {}


def macs_of(m, out):
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        _, cout, hout, wout = out.shape
        return hout * wout * cout * (m.in_channels // m.groups) * kh * kw
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features
    return 0


def own_buffers(m):
    n = 0
    for bname in ("running_mean", "running_var"):
        b = getattr(m, bname, None)
        if isinstance(b, torch.Tensor):
            n += b.numel()
    return n


def analyse(name):
    model = build(name).eval()
    rows = []
    calls = {}
    handles = []
    unknown_leaves = []
    for path, mod in model.named_modules():
        if len(list(mod.children())) != 0:
            continue
        if not isinstance(mod, LEAF_TYPES):
            unknown_leaves.append((path, type(mod).__name__))
            continue

        def hook(m, inp, out, path=path):
            n = calls.get(path, 0)
            calls[path] = n + 1
            x = inp[0]
            params = sum(p.numel() for p in m.parameters(recurse=False))
            trainable = sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad)
            rows.append({
                "name": path.replace(".", "_"),
                "path": path,
                "type": type(m).__name__,
                "inputShape": shape_hwc(x),
                "outputShape": shape_hwc(out),
                "params": params,
                "trainable": trainable,
                "buffers": own_buffers(m),
                "macs": macs_of(m, out),
                "call": n,
                "attrs": attrs(m),
            })
        handles.append(mod.register_forward_hook(hook))
    if unknown_leaves:
        raise SystemExit(f"{name}: unexpected leaf modules {unknown_leaves}")
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    for h in handles:
        h.remove()

    totals = {
        "params": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "buffers": sum(own_buffers(m) for m in model.modules()),
        "macs": sum(r["macs"] for r in rows),
        "layerCalls": len(rows),
        "modules": len(calls),
    }
    # sanity: per-call params counted once per module equals total params
    seen = set()
    p_once = 0
    for r in rows:
        if r["path"] not in seen:
            seen.add(r["path"])
            p_once += r["params"]
    assert p_once == totals["params"], (name, p_once, totals["params"])
    reused = sorted({r["name"] for r in rows if r["call"] > 0})
    return {"input": [224, 224, 3], "totals": totals, "reusedModules": reused,
            "layers": rows}


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "test", "fixtures", "torch", "counts.json")
    torch.set_num_threads(2)
    result = {"torch": torch.__version__, "torchvision": torchvision.__version__,
              "generator": "scripts/reference/torch_counts.py",
              "notes": "Shapes per image [H,W,C] (or [C]). macs: Conv2d = Hout*Wout*Cout*(Cin/groups)*kh*kw (no bias), "
                       "Linear = in*out, others 0. buffers = running_mean+running_var numel. "
                       "'call' = number of previous calls of the same module (torchvision reuses ReLU modules).",
              "models": {}}
    mismatches = []
    print(f"{'model':<10} {'params':>12} {'trainable':>12} {'buffers':>9} {'MACs':>15} {'calls':>6}  expected-ok")
    for name in [*EXPECTED, *EXPECTED_ROUNDED]:
        info = analyse(name)
        result["models"][name] = info
        t = info["totals"]
        if name in EXPECTED:
            exp = EXPECTED[name]
            ok = (t["trainable"], t["macs"]) == exp
        else:
            exp = EXPECTED_ROUNDED[name]
            ok = t["trainable"] == exp[0] and round(t["macs"] / 1e9, 2) == exp[1]
        if not ok:
            mismatches.append((name, (t["trainable"], t["macs"]), exp))
        print(f"{name:<10} {t['params']:>12,} {t['trainable']:>12,} {t['buffers']:>9,} {t['macs']:>15,} "
              f"{t['layerCalls']:>6}  {ok}")
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("wrote", out_path)
    for m in mismatches:
        print("MISMATCH", m)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
