#!/usr/bin/python3
"""Reference for the `torch` preprocess preset: torchvision's own ImageNet eval transform.

Usage (from repo root):
    /usr/bin/python3 scripts/reference/torch_preprocess.py [outdir]
Default outdir: test/fixtures/torch/preprocess

Writes, for three synthetic photographs (smooth shading, hard-edged shapes and fine texture;
numpy seed 0; no downloads):
  <name>.png             the image (PNG: lossless, so both sides decode the same pixels)
  reference.safetensors  one [224, 224, 3] float32 tensor per image (HWC), the output of
                         Resize(256) -> CenterCrop(224) -> ToTensor -> Normalize(ImageNet mean, std)
                         with torchvision's defaults (bilinear, PIL's antialiased resampling).
The sizes cover enlarging (224x224 -> 256), slight enlarging of a landscape image and shrinking a
larger portrait one, where antialiasing matters. `<name>_stretch` tensors (tall_200x600) are
Resize((224, 224)) -> ToTensor -> Normalize instead: one axis grows while the other shrinks.
"""
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import write_safetensors  # noqa: E402

IMAGES = {"square_224": (224, 224), "landscape_320x240": (320, 240), "portrait_480x640": (480, 640)}
# Stretch presets resize straight to 224x224; this one grows in width and shrinks in height.
STRETCH_IMAGES = {"tall_200x600": (200, 600)}


def synthetic_photo(rng, width, height):
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.zeros((height, width, 3))
    for c in range(3):
        # Smooth shading: a gradient and a few low-frequency waves.
        img[..., c] = 90 + 60 * (x / width) + 40 * (y / height) * (c - 1)
        for _ in range(3):
            fx, fy, ph = rng.uniform(0.5, 4, 2).tolist() + [rng.uniform(0, 6.28)]
            img[..., c] += 25 * np.sin(2 * np.pi * (fx * x / width + fy * y / height) + ph)
    # Hard edges: filled rectangles and discs of random colours.
    for _ in range(6):
        x0, y0 = rng.integers(0, width - 20), rng.integers(0, height - 20)
        w, h = rng.integers(10, width // 3), rng.integers(10, height // 3)
        img[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 255, 3)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(8, min(width, height) / 4)
        img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    # Fine texture, as in real photographs.
    img += rng.normal(0, 6, img.shape)
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/torch/preprocess"
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(0)
    transform = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    tensors = {}
    for name, (w, h) in IMAGES.items():
        image = synthetic_photo(rng, w, h)
        path = os.path.join(outdir, f"{name}.png")
        image.save(path)
        # Read back from the file, as the server will.
        chw = transform(Image.open(path).convert("RGB"))
        tensors[name] = chw.permute(1, 2, 0).contiguous().numpy().astype(np.float32)
        print(name, tuple(tensors[name].shape))
    stretch = transforms.Compose([transforms.Resize((224, 224)), *transform.transforms[2:]])
    for name, (w, h) in STRETCH_IMAGES.items():
        image = synthetic_photo(rng, w, h)
        path = os.path.join(outdir, f"{name}.png")
        image.save(path)
        chw = stretch(Image.open(path).convert("RGB"))
        tensors[f"{name}_stretch"] = chw.permute(1, 2, 0).contiguous().numpy().astype(np.float32)
        print(f"{name}_stretch", tuple(tensors[f"{name}_stretch"].shape))
    write_safetensors(os.path.join(outdir, "reference.safetensors"), tensors,
                      {"torch": torch.__version__, "torchvision": torchvision.__version__,
                       "transform": "Resize(256), CenterCrop(224), ToTensor, Normalize(ImageNet)"})


if __name__ == "__main__":
    main()
