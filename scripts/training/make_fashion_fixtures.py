#!/usr/bin/python3
"""Build test/fixtures/fashion/ from the Fashion-MNIST test set and the exported models.

Run with Debian's interpreter after both models are trained/exported:

    /usr/bin/python3 scripts/training/make_fashion_fixtures.py

(takes a few seconds). Writes:
  test/fixtures/fashion/<testIndex>_<classIndex>.png  300 images: the first 30 test images of
      each class in test-set order; 8-bit grayscale 28x28 PNGs (written with zlib+struct).
  test/fixtures/fashion/index.json      [{file, testIndex, label, labelName}] sorted by testIndex.
  test/fixtures/fashion/reference.json  per model: PyTorch eval-mode float32 logits for the first
      20 entries of index.json, the predicted class for all 300, and accuracy on those 300.
      The models are loaded from models/<model>/weights.safetensors (not from the training
      checkpoint), so the reference also validates the exported weight layout.
  test/fixtures/fashion/t10k-{images-idx3,labels-idx1}-ubyte.gz  copies of the test set.
"""
import hashlib
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fashion import (DATA_DIR, LABELS, MEAN, MODELS, ROOT, STD, import_tensors,  # noqa: E402
                           load_split, normalize, read_safetensors)

OUT = os.path.join(ROOT, "test", "fixtures", "fashion")
PER_CLASS = 30
N_LOGITS = 20


def png_gray8(img):
    """Encode a uint8 HxW array as an 8-bit grayscale, non-interlaced PNG."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))  # filter type 0 per row
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--models-dir", default=os.path.join(ROOT, "models"),
                    help="directory holding <model>/weights.safetensors (default models/)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    xte, yte = load_split("test")

    # first 30 of each class, in test-set order
    picked = []
    for c in range(10):
        picked.extend(int(i) for i in np.nonzero(yte == c)[0][:PER_CLASS])
    picked.sort()
    assert len(picked) == 10 * PER_CLASS

    # remove stale PNGs from a previous run
    for f in os.listdir(OUT):
        if f.endswith(".png"):
            os.remove(os.path.join(OUT, f))

    index = []
    from torchvision.io import decode_png  # only used to verify what we wrote
    for ti in picked:
        label = int(yte[ti])
        fname = f"{ti}_{label}.png"
        data = png_gray8(xte[ti])
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)
        back = decode_png(torch.frombuffer(bytearray(data), dtype=torch.uint8))
        assert back.shape == (1, 28, 28) and torch.equal(back[0], torch.from_numpy(xte[ti].copy()))
        index.append({"file": fname, "testIndex": ti, "label": label, "labelName": LABELS[label]})
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")

    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copyfile(os.path.join(DATA_DIR, name), os.path.join(OUT, name))

    x = normalize(xte[picked])  # [300,1,28,28] float32
    y = torch.as_tensor(yte[picked].astype(np.int64))
    ref = {
        "description": "PyTorch eval-mode reference outputs for the fixture images. 'logits' covers "
                       "the first 20 entries of index.json (test-set order); 'predictions' covers all "
                       "300 entries of index.json in the same order.",
        "preprocessing": {"scale": "x/255", "mean": MEAN, "std": STD,
                          "input": "28x28x1 grayscale, (x/255 - mean) / std"},
        "labels": LABELS,
        "files": [e["file"] for e in index],
        "models": {},
    }
    for model_name in ("fashion-resnet", "fashion-inception"):
        wpath = os.path.join(args.models_dir, model_name, "weights.safetensors")
        if not os.path.exists(wpath):
            print(f"skipping {model_name}: {wpath} missing", file=sys.stderr)
            continue
        tensors, _ = read_safetensors(wpath)
        model = MODELS[model_name]()
        import_tensors(model, tensors)
        model.eval()
        with torch.no_grad():
            logits = model(x)
        pred = logits.argmax(1)
        correct = int((pred == y).sum())
        with open(wpath, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        ref["models"][model_name] = {
            "weights": f"models/{model_name}/weights.safetensors",
            "weightsSha256": sha,
            "torchVersion": torch.__version__,
            "logits": [
                {"file": index[i]["file"], "testIndex": index[i]["testIndex"], "label": index[i]["label"],
                 # float32 values widened exactly to double: JSON numbers at full precision
                 "logits": [float(v) for v in logits[i].numpy().astype(np.float32)]}
                for i in range(N_LOGITS)
            ],
            "predictions": [int(p) for p in pred],
            "correct": correct,
            "total": len(picked),
            "accuracy": correct / len(picked),
        }
        print(f"{model_name}: {correct}/{len(picked)} on fixtures")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    print(f"wrote {len(index)} PNGs, index.json, reference.json to {OUT}")


if __name__ == "__main__":
    main()
