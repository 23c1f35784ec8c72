#!/usr/bin/python3
"""Train the convnet-serve Fashion-MNIST CNNs and export them as safetensors.

Run with Debian's interpreter (torch 1.13, torchvision, numpy), not a venv python:

    nice -n 5 /usr/bin/python3 scripts/training/train_fashion.py --model fashion-resnet --epochs 20
    nice -n 5 /usr/bin/python3 scripts/training/train_fashion.py --model fashion-inception --epochs 20

Long runs: launch with nohup and poll the log, e.g.
    nohup nice -n 5 /usr/bin/python3 scripts/training/train_fashion.py --model fashion-resnet \
        --epochs 20 > /tmp/fashion-resnet.log 2>&1 &
Add --resume to continue from the last per-epoch checkpoint in --ckpt-dir (default /tmp/fashion-ckpt).

Outputs (in models/<model>/): weights.safetensors, labels.txt, training.json.
Checkpoints stay in /tmp. The test set (10k) is evaluated exactly once, after the last
epoch; there is no model selection on it.

Recipe: SGD (momentum 0.9, nesterov), weight decay 5e-4 on conv/dense kernels only,
OneCycle LR (peak 0.15, 20% warm-up, cosine annealing), batch 256, label smoothing 0.1,
augmentation = random 28x28 crop from the image zero-padded by 2 + random horizontal flip,
normalisation (x/255 - 0.2860) / 0.3530. Seed 42; epoch e uses its own generator seeded
with seed*1000+e for shuffling and augmentation, so a resumed run is bit-for-bit the same
data order.

Measured on the 2-core build box (shared with other jobs, load average up to ~9; nice 5):
  fashion-resnet    20 epochs: 94.4 min of training (5662 s; 2.3-8.7 min/epoch depending on
      contention; epochs 1-8 with 2 threads, resumed with --threads 1 for epochs 9-20),
      test accuracy 0.9446 (9446/10000). Uncontended it runs ~1.7 min/epoch with 2 threads.
  fashion-inception 20 epochs: 63.8 min of training (3830 s, 1 thread, 2.7-4.7 min/epoch,
      concurrently with the resnet), test accuracy 0.9442 (9442/10000).
Exact per-epoch figures are in models/<model>/training.json.
"""
import argparse
import gzip
import json
import math
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530
BN_EPS = 1e-5


# ----------------------------------------------------------------------------- data
def read_idx(path):
    """Read a (gzipped) IDX file into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: unsupported IDX header")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch")
    return arr.reshape(dims)


def load_split(split, data_dir=DATA_DIR):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    return x, y


def normalize(x_uint8):
    """uint8 [N,28,28] (numpy or tensor) -> float32 tensor [N,1,28,28] normalised."""
    x = torch.as_tensor(np.array(x_uint8, copy=True) if isinstance(x_uint8, np.ndarray) else x_uint8).float().div_(255.0)
    return x.sub_(MEAN).div_(STD).unsqueeze(1)


def augment(xb, gen):
    """Random 28x28 crop of the zero-padded (2px) image + random horizontal flip.

    xb: uint8 tensor [B,28,28]. Padding is applied to raw pixels (value 0 = black),
    i.e. before normalisation, matching torchvision RandomCrop(28, padding=2)."""
    b = xb.shape[0]
    xp = F.pad(xb, (2, 2, 2, 2))  # zeros
    dy = torch.randint(0, 5, (b,), generator=gen)
    dx = torch.randint(0, 5, (b,), generator=gen)
    ar = torch.arange(28)
    rows = (dy[:, None] + ar)[:, :, None]  # B,28,1
    cols = (dx[:, None] + ar)[:, None, :]  # B,1,28
    out = xp[torch.arange(b)[:, None, None], rows, cols]
    flip = torch.rand(b, generator=gen) < 0.5
    out = torch.where(flip[:, None, None], out.flip(2), out)
    return out


# ----------------------------------------------------------------------------- models
class ConvBN(nn.Module):
    """conv (no bias) + BN (+ optional ReLU); exported as <name>_conv / <name>_bn."""

    def __init__(self, cin, cout, k, stride=1, pad=None, relu=True):
        super().__init__()
        if pad is None:
            pad = k // 2
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.relu = relu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.relu else x


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = ConvBN(cin, cout, 3, stride, 1, relu=True)
        self.c2 = ConvBN(cout, cout, 3, 1, 1, relu=False)
        self.proj = ConvBN(cin, cout, 1, stride, 0, relu=False) if (stride != 1 or cin != cout) else None

    def forward(self, x):
        s = self.proj(x) if self.proj is not None else x
        return F.relu(self.c2(self.c1(x)) + s)


class FashionResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBN(1, 32, 3, 1, 1)
        self.conv2_block1 = BasicBlock(32, 32, 1)
        self.conv3_block1 = BasicBlock(32, 64, 2)
        self.conv3_block2 = BasicBlock(64, 64, 1)
        self.conv4_block1 = BasicBlock(64, 128, 2)
        self.conv4_block2 = BasicBlock(128, 128, 1)
        self.predictions = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        for blk in (self.conv2_block1, self.conv3_block1, self.conv3_block2,
                    self.conv4_block1, self.conv4_block2):
            x = blk(x)
        x = x.mean(dim=(2, 3))
        return self.predictions(x)

    def export_units(self):
        """[(exportName, ConvBN)] in forward order."""
        units = [("conv1", self.conv1)]
        for name in ("conv2_block1", "conv3_block1", "conv3_block2", "conv4_block1", "conv4_block2"):
            blk = getattr(self, name)
            if blk.proj is not None:
                units.append((f"{name}_0", blk.proj))
            units.append((f"{name}_1", blk.c1))
            units.append((f"{name}_2", blk.c2))
        return units


class InceptionModule(nn.Module):
    def __init__(self, cin, b1, b2r, b2, b3r, b3, b4):
        super().__init__()
        self.b1 = ConvBN(cin, b1, 1)
        self.b2_reduce = ConvBN(cin, b2r, 1)
        self.b2 = ConvBN(b2r, b2, 3, 1, 1)
        self.b3_reduce = ConvBN(cin, b3r, 1)
        self.b3 = ConvBN(b3r, b3, 5, 1, 2)
        self.b4 = ConvBN(cin, b4, 1)
        self.out_channels = b1 + b2 + b3 + b4

    def forward(self, x):
        return torch.cat([
            self.b1(x),
            self.b2(self.b2_reduce(x)),
            self.b3(self.b3_reduce(x)),
            self.b4(F.max_pool2d(x, 3, 1, 1)),
        ], dim=1)


class FashionInception(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ConvBN(1, 32, 3, 1, 1)
        self.conv2 = ConvBN(32, 64, 3, 2, 1)
        self.mixed1 = InceptionModule(64, 32, 32, 48, 8, 16, 16)      # -> 112
        self.mixed2 = InceptionModule(112, 48, 48, 64, 12, 24, 24)    # -> 160
        self.mixed3 = InceptionModule(160, 64, 64, 96, 16, 32, 32)    # -> 224
        self.mixed4 = InceptionModule(224, 96, 64, 128, 16, 32, 32)   # -> 288
        self.dropout = nn.Dropout(0.2)
        self.predictions = nn.Linear(288, 10)

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        x = self.mixed2(self.mixed1(x))
        x = F.max_pool2d(x, 3, 2, 1)
        x = self.mixed4(self.mixed3(x))
        x = x.mean(dim=(2, 3))
        return self.predictions(self.dropout(x))

    def export_units(self):
        units = [("conv1", self.conv1), ("conv2", self.conv2)]
        for m in ("mixed1", "mixed2", "mixed3", "mixed4"):
            mod = getattr(self, m)
            for b in ("b1", "b2_reduce", "b2", "b3_reduce", "b3", "b4"):
                units.append((f"{m}_{b}", getattr(mod, b)))
        return units


MODELS = {"fashion-resnet": FashionResNet, "fashion-inception": FashionInception}


# ----------------------------------------------------------------------------- export
def export_tensors(model):
    """Ordered list of (key, float32 numpy array) in the service's layout."""
    out = []
    for name, unit in model.export_units():
        w = unit.conv.weight.detach().cpu().float()
        assert unit.conv.bias is None
        out.append((f"{name}_conv/kernel", w.permute(2, 3, 1, 0).contiguous().numpy()))  # OIHW->HWIO
        bn = unit.bn
        out.append((f"{name}_bn/gamma", bn.weight.detach().cpu().float().numpy()))
        out.append((f"{name}_bn/beta", bn.bias.detach().cpu().float().numpy()))
        out.append((f"{name}_bn/moving_mean", bn.running_mean.detach().cpu().float().numpy()))
        out.append((f"{name}_bn/moving_variance", bn.running_var.detach().cpu().float().numpy()))
    lin = model.predictions
    out.append(("predictions/kernel", lin.weight.detach().cpu().float().t().contiguous().numpy()))
    out.append(("predictions/bias", lin.bias.detach().cpu().float().numpy()))
    return out


def import_tensors(model, tensors):
    """Load a {key: numpy} dict (as exported) back into a PyTorch model, strictly."""
    expected = {k for k, _ in export_tensors(model)}
    if set(tensors) != expected:
        raise ValueError(f"key mismatch: missing {sorted(expected - set(tensors))}, "
                         f"extra {sorted(set(tensors) - expected)}")
    with torch.no_grad():
        for name, unit in model.export_units():
            k = torch.from_numpy(np.ascontiguousarray(tensors[f"{name}_conv/kernel"]))
            unit.conv.weight.copy_(k.permute(3, 2, 0, 1))  # HWIO->OIHW
            unit.bn.weight.copy_(torch.from_numpy(tensors[f"{name}_bn/gamma"]))
            unit.bn.bias.copy_(torch.from_numpy(tensors[f"{name}_bn/beta"]))
            unit.bn.running_mean.copy_(torch.from_numpy(tensors[f"{name}_bn/moving_mean"]))
            unit.bn.running_var.copy_(torch.from_numpy(tensors[f"{name}_bn/moving_variance"]))
        model.predictions.weight.copy_(torch.from_numpy(tensors["predictions/kernel"]).t())
        model.predictions.bias.copy_(torch.from_numpy(tensors["predictions/bias"]))


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (key, np.ndarray). Writes F32 little-endian safetensors."""
    header = {}
    blobs = []
    offset = 0
    for key, arr in tensors:
        a = np.ascontiguousarray(arr, dtype="<f4")
        nbytes = a.nbytes
        header[key] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + nbytes]}
        blobs.append(a.tobytes())
        offset += nbytes
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns ({key: np.ndarray float32}, metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for key, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{key}: dtype {info['dtype']}")
        s, e = info["data_offsets"]
        arr = np.frombuffer(data[base + s:base + e], dtype="<f4").reshape(info["shape"])
        out[key] = arr.copy()
    return out, meta


# ----------------------------------------------------------------------------- training
def set_seeds(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def param_groups(model, wd):
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        # conv kernels and the dense kernel get weight decay; BN gamma/beta and biases don't
        (decay if p.ndim > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate(model, x_uint8, y, batch=1000):
    model.eval()
    correct = 0
    preds = []
    for i in range(0, len(y), batch):
        xb = normalize(x_uint8[i:i + batch]).contiguous(memory_format=torch.channels_last)
        p = model(xb).argmax(1)
        preds.append(p)
    preds = torch.cat(preds)
    correct = int((preds == torch.as_tensor(y).long()).sum())
    return correct, preds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.15, help="OneCycle peak LR")
    ap.add_argument("--pct-start", type=float, default=0.2)
    ap.add_argument("--wd", type=float, default=5e-4)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-dir", default="/tmp/fashion-ckpt")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--subset", type=int, default=0, help="smoke test: use only N train images")
    ap.add_argument("--out-dir", default=None, help="default models/<model>")
    ap.add_argument("--no-export", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    set_seeds(args.seed)
    out_dir = args.out_dir or os.path.join(ROOT, "models", args.model)
    os.makedirs(args.ckpt_dir, exist_ok=True)
    ckpt_path = os.path.join(args.ckpt_dir, f"{args.model}.pt")

    xtr, ytr = load_split("train")
    xte, yte = load_split("test")
    if args.subset:
        xtr, ytr = xtr[:args.subset], ytr[:args.subset]
    xtr_t = torch.from_numpy(xtr.copy())
    ytr_t = torch.from_numpy(ytr.astype(np.int64))
    n = len(ytr)
    steps_per_epoch = math.ceil(n / args.batch_size)

    model = MODELS[args.model]().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(param_groups(model, args.wd), lr=args.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
        pct_start=args.pct_start, anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4)
    crit = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    start_epoch, per_epoch, train_seconds = 0, [], 0.0
    if args.resume and os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        cfg = ck["args"]
        for k in ("model", "epochs", "batch_size", "lr", "pct_start", "wd", "label_smoothing", "seed", "subset"):
            if cfg[k] != getattr(args, k):
                sys.exit(f"--resume: checkpoint has {k}={cfg[k]!r}, args have {getattr(args, k)!r}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        start_epoch, per_epoch, train_seconds = ck["epoch"], ck["per_epoch"], ck["train_seconds"]
        print(f"resumed from {ckpt_path} after epoch {start_epoch}", flush=True)

    nparams = sum(p.numel() for p in model.parameters())
    print(f"{args.model}: {nparams} params, {n} train images, {steps_per_epoch} steps/epoch, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}", flush=True)

    for epoch in range(start_epoch, args.epochs):
        model.train()
        gen = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        torch.manual_seed(args.seed * 1000 + epoch)  # dropout masks
        perm = torch.randperm(n, generator=gen)
        t0 = time.time()
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            xb = augment(xtr_t[idx], gen)
            xb = normalize(xb).contiguous(memory_format=torch.channels_last)
            yb = ytr_t[idx]
            logits = model(xb)
            loss = crit(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
            if step % 50 == 0:
                print(f"  epoch {epoch + 1} step {step}/{steps_per_epoch} loss {float(loss):.4f} "
                      f"lr {sched.get_last_lr()[0]:.4f} {time.time() - t0:.0f}s", flush=True)
        secs = time.time() - t0
        train_seconds += secs
        rec = {"epoch": epoch + 1, "trainLoss": round(loss_sum / seen, 6),
               "trainAcc": round(correct / seen, 6), "seconds": round(secs, 2),
               "threads": torch.get_num_threads()}
        per_epoch.append(rec)
        print(f"epoch {epoch + 1}/{args.epochs} loss {rec['trainLoss']:.4f} acc {rec['trainAcc']:.4f} "
              f"{secs:.0f}s (total {train_seconds / 60:.1f} min)", flush=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "epoch": epoch + 1, "per_epoch": per_epoch, "train_seconds": train_seconds,
                    "args": vars(args)}, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    # single evaluation on the full test set, after the final epoch
    correct, _ = evaluate(model, xte, yte)
    acc = correct / len(yte)
    print(f"TEST {args.model}: {correct}/{len(yte)} = {acc:.4f}", flush=True)

    if args.no_export or (args.subset and not args.out_dir):
        print("(not exporting: smoke run without --out-dir)", flush=True)
        return
    os.makedirs(out_dir, exist_ok=True)
    model = model.cpu().to(memory_format=torch.contiguous_format)
    tensors = export_tensors(model)
    write_safetensors(os.path.join(out_dir, "weights.safetensors"), tensors,
                      {"model": args.model, "framework": "pytorch " + torch.__version__,
                       "layout": "conv HWIO, dense [in,out]", "testAccuracy": f"{acc:.4f}"})
    # round-trip check
    back, _ = read_safetensors(os.path.join(out_dir, "weights.safetensors"))
    m2 = MODELS[args.model]()
    import_tensors(m2, back)
    c2, _ = evaluate(m2, xte, yte)
    assert c2 == correct, (c2, correct)
    with open(os.path.join(out_dir, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    info = {
        "model": args.model,
        "seed": args.seed,
        "epochs": args.epochs,
        "batchSize": args.batch_size,
        "optimizer": {"type": "SGD", "momentum": 0.9, "nesterov": True, "weightDecay": args.wd,
                      "weightDecayOn": "conv and dense kernels only (not BN gamma/beta, not biases)",
                      "labelSmoothing": args.label_smoothing},
        "lrSchedule": {"type": "OneCycleLR", "maxLr": args.lr, "pctStart": args.pct_start,
                       "anneal": "cos", "divFactor": 25.0, "finalDivFactor": 1e4,
                       "stepsPerEpoch": steps_per_epoch, "stepPer": "batch"},
        "augmentation": "random crop 28x28 from image zero-padded by 2px (before normalisation) "
                        "+ random horizontal flip p=0.5",
        "normalization": {"scale": "x/255", "mean": MEAN, "std": STD},
        "bnEpsilon": BN_EPS,
        "parameters": nparams,
        "trainSeconds": round(train_seconds, 1),
        "torchVersion": torch.__version__,
        "threads": sorted({r.get("threads", args.threads) for r in per_epoch}),
        "testAccuracy": acc,
        "testCorrect": correct,
        "trainImages": n,
        "testImages": int(len(yte)),
        "perEpoch": per_epoch,
    }
    with open(os.path.join(out_dir, "training.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(f"exported to {out_dir}", flush=True)


if __name__ == "__main__":
    main()
