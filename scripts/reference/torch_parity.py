#!/usr/bin/python3
"""Numeric parity fixtures from torchvision modules (eval mode, float32).

Usage (from repo root):
    /usr/bin/python3 scripts/reference/torch_parity.py [outdir]
Default outdir: test/fixtures/torch/parity

For each case writes
  <name>.safetensors     state_dict (torchvision keys, OIHW, F32, no num_batches_tracked)
  <name>.io.safetensors  'input' and 'output' in NHWC (output [N,classes] for resnet18)
Weights: torch.manual_seed(0), default module init, then every BatchNorm2d
(in named_modules order) gets running_mean~N(0,0.1), running_var~U(0.5,1.5),
weight~U(0.5,1.5), bias~N(0,0.1) from the same RNG stream.
Inputs: torch.manual_seed(1), N(0,1), NCHW.
No downloads.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models import resnet18
from torchvision.models.googlenet import Inception
from torchvision.models.resnet import BasicBlock, Bottleneck

sys.dont_write_bytecode = True  # keep scripts/reference free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402


def randomise_bn(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c) * 0.1)
                m.running_var.copy_(torch.rand(c) + 0.5)
                m.weight.copy_(torch.rand(c) + 0.5)
                m.bias.copy_(torch.randn(c) * 0.1)


def make_identity_block():
    return BasicBlock(16, 16), (1, 16, 8, 8)


def make_downsample_block():
    ds = nn.Sequential(nn.Conv2d(32, 64, 1, stride=2, bias=False), nn.BatchNorm2d(64))
    return Bottleneck(inplanes=32, planes=16, stride=2, downsample=ds), (1, 32, 8, 8)


def make_inception_module():
    return Inception(192, 64, 96, 128, 16, 32, 32), (1, 192, 8, 8)


def make_resnet18():
    return resnet18(weights=None, num_classes=1000), (2, 3, 224, 224)


CASES = [
    ("identity_block", make_identity_block),
    ("downsample_block", make_downsample_block),
    ("inception_module", make_inception_module),
    ("resnet18", make_resnet18),
]


def nchw_to_nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous() if t.dim() == 4 else t


def run_case(name, factory, outdir):
    torch.manual_seed(0)
    model, in_shape = factory()
    randomise_bn(model)
    model = model.float().eval()
    torch.manual_seed(1)
    x = torch.randn(*in_shape, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
        # float64 reference to estimate float32 rounding noise
        m64 = __import__("copy").deepcopy(model).double()
        y64 = m64(x.double())
    err32 = (y.double() - y64).abs().max().item()
    scale = y64.abs().max().item()

    sd = [(k, v.detach().cpu().float().numpy()) for k, v in model.state_dict().items()
          if not k.endswith("num_batches_tracked")]
    meta = {"torch": torch.__version__, "torchvision": torchvision.__version__,
            "generator": "scripts/reference/torch_parity.py", "case": name,
            "layout": "OIHW (PyTorch)"}
    w_path = os.path.join(outdir, f"{name}.safetensors")
    write_safetensors(w_path, sd, meta)
    x_nhwc = nchw_to_nhwc(x).numpy()
    y_nhwc = nchw_to_nhwc(y).numpy()
    io_meta = dict(meta, layout="NHWC", input_nchw=str(list(x.shape)),
                   output_nchw=str(list(y.shape)),
                   max_abs_err_f32_vs_f64=f"{err32:.3e}", max_abs_output=f"{scale:.6g}")
    io_path = os.path.join(outdir, f"{name}.io.safetensors")
    write_safetensors(io_path, [("input", x_nhwc), ("output", y_nhwc)], io_meta)

    # round-trip verification
    sd2, meta2 = read_safetensors(w_path)
    assert list(sd2.keys()) == [k for k, _ in sd], name
    for k, v in sd:
        assert sd2[k].shape == v.shape and np.array_equal(sd2[k], v), k
    assert meta2["format"] == "pt"
    io2, _ = read_safetensors(io_path)
    assert np.array_equal(io2["input"], x_nhwc) and np.array_equal(io2["output"], y_nhwc)
    # reload into a fresh module and recompute from the NHWC fixture
    torch.manual_seed(123)
    fresh, _ = factory()
    missing, unexpected = fresh.load_state_dict(
        {k: torch.from_numpy(v) for k, v in sd2.items()}, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    fresh.eval()
    with torch.no_grad():
        xi = torch.from_numpy(io2["input"]).permute(0, 3, 1, 2).contiguous()
        yi = fresh(xi)
    assert torch.equal(nchw_to_nhwc(yi), torch.from_numpy(io2["output"])), name
    print(f"{name:<17} params-tensors={len(sd):>3} in={list(x_nhwc.shape)} out={list(y_nhwc.shape)} "
          f"|out|max={scale:.4g} f32-vs-f64={err32:.2e} "
          f"sizes={os.path.getsize(w_path):,}/{os.path.getsize(io_path):,} OK")


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "test", "fixtures", "torch", "parity")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    print("torch", torch.__version__, "torchvision", torchvision.__version__)
    for name, factory in CASES:
        run_case(name, factory, outdir)


if __name__ == "__main__":
    main()
