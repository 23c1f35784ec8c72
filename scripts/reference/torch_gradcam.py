#!/usr/bin/python3
"""Grad-CAM reference maps for the two default models, computed independently with PyTorch autograd.

Usage (from the repo root, a few seconds):
    /usr/bin/python3 scripts/reference/torch_gradcam.py [outfile]
Default outfile: test/fixtures/torch/gradcam/fashion.json

The models are the PyTorch modules they were trained as (scripts/training/train_fashion.py), with
the served weights loaded from models/<model>/weights.safetensors, in eval mode, float32. Each image
is a committed test image (test/fixtures/fashion), read as 8-bit grayscale and normalised as the
models' config.json says: (x/255 - mean) / std.

Grad-CAM (Selvaraju et al. 2017): a forward hook keeps the output A of the module named by the case
and its gradient; y_c is the pre-softmax score (the Linear's output) of class c, the top class unless
the case names one; alpha_k is the spatial mean of dy_c/dA_k; the map is ReLU(sum_k alpha_k A_k)
divided by its maximum (zeros stay zeros). Written at the layer's resolution, row-major [h][w].
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.dont_write_bytecode = True  # keep scripts/ free of __pycache__
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training"))
from train_fashion import MODELS, ROOT, import_tensors, read_safetensors  # noqa: E402

IMAGES = ["0_9.png", "1_2.png", "2_1.png", "105_8.png"]

# (served layer name, module path in the PyTorch model, explained class or None for the top one).
# The served names are the spec's: a block's output ReLU is <block>_out, a module's concat <module>.
CASES = {
    "fashion-resnet": [
        ("conv4_block2_out", "conv4_block2", None),  # the default layer: what global pooling reads
        ("conv4_block2_out", "conv4_block2", 0),
        ("conv3_block2_out", "conv3_block2", None),  # 14x14, before the last downsampling
    ],
    "fashion-inception": [
        ("mixed4", "mixed4", None),
        ("mixed4", "mixed4", 0),
        ("mixed2", "mixed2", None),  # 14x14, before pool2
    ],
}


def load(model_name):
    model = MODELS[model_name]()
    tensors, _ = read_safetensors(os.path.join(ROOT, "models", model_name, "weights.safetensors"))
    import_tensors(model, tensors)
    return model.float().eval()


def read_image(model_name, file):
    with open(os.path.join(ROOT, "models", model_name, "config.json")) as f:
        pre = json.load(f)["preprocess"]
    img = np.asarray(Image.open(os.path.join(ROOT, "test", "fixtures", "fashion", file)).convert("L"),
                     dtype=np.float32)
    x = (img / 255.0 - pre["mean"][0]) / pre["std"][0]
    return torch.from_numpy(x.astype(np.float32))[None, None]


def gradcam(model, module_path, x, wanted):
    module = model.get_submodule(module_path)
    kept = {}

    def hook(_mod, _inp, out):
        out.retain_grad()
        kept["a"] = out

    handle = module.register_forward_hook(hook)
    try:
        logits = model(x)
    finally:
        handle.remove()
    c = int(logits[0].argmax()) if wanted is None else wanted
    model.zero_grad()
    logits[0, c].backward()
    a, g = kept["a"][0], kept["a"].grad[0]  # [K, h, w]
    alpha = g.mean(dim=(1, 2))
    cam = torch.relu((alpha[:, None, None] * a).sum(dim=0)).detach()
    m = float(cam.max())
    cam = cam / m if m > 0 else torch.zeros_like(cam)
    return c, cam.numpy()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test", "fixtures", "torch", "gradcam",
                                                             "fashion.json")
    result = {"torch": torch.__version__, "images": IMAGES, "models": {}}
    for model_name, cases in CASES.items():
        model = load(model_name)
        rows = []
        for file in IMAGES:
            x = read_image(model_name, file)
            for layer, module_path, wanted in cases:
                c, cam = gradcam(model, module_path, x, wanted)
                rows.append({
                    "file": file,
                    "layer": layer,
                    "explainClass": wanted,
                    "class": c,
                    "height": cam.shape[0],
                    "width": cam.shape[1],
                    "map": [round(float(v), 6) for v in cam.reshape(-1)],
                })
        result["models"][model_name] = rows
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}: {sum(len(r) for r in result['models'].values())} maps")


if __name__ == "__main__":
    main()
