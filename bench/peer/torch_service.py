"""The service a user might write instead of convnet-serve: FastAPI + PyTorch, same model and transforms.

npm run bench starts it (when Debian's python3-torch, python3-torchvision, python3-fastapi and
python3-uvicorn are present) and loads it with the same images, concurrency and load generator as
convnet-serve, so the two can be compared in one run. The endpoint reads the raw body (as
convnet-serve's /classify accepts it) and runs the blocking work in Starlette's thread pool, as
FastAPI's documentation advises, so the event loop keeps accepting requests.

Two choices are made in the peer's favour, so the comparison does not flatter us: PyTorch gets
every core of the machine (this Debian build defaults to one thread on some machines), and the
model runs under inference_mode. Weights are PyTorch's random initialisation: the arithmetic is the
same for any values.

Run by hand: /usr/bin/python3 -m uvicorn torch_service:app --app-dir bench/peer --port 3999
Environment: PEER_MODEL (a torchvision classifier name, default resnet50).
"""

import io
import os

import torch
import torchvision
from fastapi import FastAPI, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from PIL import Image
from torchvision import transforms as T

torch.set_num_threads(len(os.sched_getaffinity(0)))
torch.manual_seed(0)
model = getattr(torchvision.models, os.environ.get("PEER_MODEL", "resnet50"))().eval()
preprocess = T.Compose(
    [
        T.Resize(256),
        T.CenterCrop(224),
        T.ToTensor(),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ]
)
app = FastAPI()


@app.get("/health")
def health():
    return {"status": "ready", "torch": torch.__version__, "threads": torch.get_num_threads()}


def top5(body: bytes) -> dict:
    try:
        image = Image.open(io.BytesIO(body)).convert("RGB")
    except Exception as err:
        raise HTTPException(status_code=400, detail=f"not an image: {err}") from err
    with torch.inference_mode():
        probabilities = model(preprocess(image).unsqueeze(0)).softmax(dim=1)[0]
    top = probabilities.topk(5)
    return {
        "predictions": [
            {"index": int(i), "probability": float(p)} for p, i in zip(top.values, top.indices)
        ]
    }


@app.post("/classify")
async def classify(request: Request):
    return await run_in_threadpool(top5, await request.body())
