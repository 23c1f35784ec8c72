"""Minimal hand-written safetensors writer/reader (F32 only, little-endian).

Format: u64 LE header length N | JSON header (N bytes, space-padded to a
multiple of 8) | raw data. Offsets in the header are relative to the start
of the data section.
"""
import json
import struct

import numpy as np


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, np.ndarray) (order kept) or dict."""
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    header = {}
    chunks = []
    offset = 0
    for name, arr in items:
        a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
        b = a.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    meta = {"format": "pt"}
    if metadata:
        meta.update({str(k): str(v) for k, v in metadata.items()})
    header["__metadata__"] = meta
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (-len(hbytes)) % 8
    hbytes += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for c in chunks:
            f.write(c)


def read_safetensors(path):
    """Returns (ordered dict name->np.ndarray, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("file too short")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError("header length exceeds file size")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    end_max = 0
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"unsupported dtype {info['dtype']}")
        s, e = info["data_offsets"]
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        if e - s != 4 * count or e > len(body):
            raise ValueError(f"bad offsets for {name}")
        out[name] = np.frombuffer(body[s:e], dtype="<f4").reshape(info["shape"]).copy()
        end_max = max(end_max, e)
    if end_max != len(body):
        raise ValueError("trailing / missing data")
    return out, meta
