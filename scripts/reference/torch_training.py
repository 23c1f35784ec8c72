#!/usr/bin/python3
"""Reference training-memory figures from torchvision: parameters, buffers, gradients,
optimizer state and the tensors autograd saves for backward.

Usage (from repo root):
    /usr/bin/python3 scripts/reference/torch_training.py [out.json]
Default output: test/fixtures/torch/training.json

Random init only (weights=None, torch.manual_seed(0)); no downloads. Batch 2,
3x224x224 float32, model.train() (batch norm uses batch statistics, dropout and
stochastic depth are active). CPU.

What is measured per model:
  * params / trainableParams / bnBuffers (float running_mean + running_var
    elements) / otherBuffers (everything else, e.g. num_batches_tracked int64).
  * gradientBytes: sum of p.grad.numel()*element_size() after one forward,
    loss = logits.sum(), backward.
  * optimizer state after one step (sgd lr=0.1; sgd momentum=0.9; adam), each on
    a fresh deep copy of the model with the same gradients copied in. State
    tensors with the numel of their parameter are 'perElement', the rest
    (Adam's 'step') 'perTensor'.
  * saved tensors: torch.autograd.graph.saved_tensors_hooks around the forward
    pass. Each pack call is attributed to the leaf module running at the time
    (forward pre-hooks / forward hooks), or to "<functional after LAST_LEAF>" when
    no leaf module is running (residual add, torch.cat, F.relu in GoogLeNet's
    BasicConv2d, ...). The Python-level torch function in progress is recorded
    with a TorchFunctionMode ('torchFunction'); after the forward pass the
    autograd graph is walked and every node's _saved_* attributes are read,
    which calls unpack and tells which grad_fn and slot holds each tensor
    ('gradFn', 'slot'). Tensors that are parameters or buffers of the model are
    excluded (compared by data_ptr and by storage). The rest are deduplicated by
    storage (t.storage().data_ptr(); torch 1.13 has no untyped_storage()): the
    first sighting counts, later ones go to 'alsoSavedBy'. All saved tensors and
    all module/function outputs are kept alive until the end of the forward
    pass, so a storage address cannot be reused by a different tensor.
"""
import copy
import json
import os
import sys
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torchvision
from torch.overrides import TorchFunctionMode
from torchvision import models

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "googlenet", "efficientnet_b0"]
EXPECTED_TRAINABLE = {
    "resnet18": 11689512,
    "resnet50": 25557032,
    "mobilenet_v2": 3504872,
    "googlenet": 6624904,
    "efficientnet_b0": 5288548,
}
BATCH = 2
INPUT = (3, 224, 224)


def build(name):
    torch.manual_seed(0)
    if name == "googlenet":
        return models.googlenet(weights=None, aux_logits=False, init_weights=False,
                                transform_input=False, num_classes=1000)
    return getattr(models, name)(weights=None, num_classes=1000)


def nbytes(t):
    return t.numel() * t.element_size()


def sptr(t):
    return t.storage().data_ptr()


def snbytes(t):
    return t.storage().nbytes()


def dtype_name(dt):
    return str(dt).replace("torch.", "")


def tensors_in(x):
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (tuple, list)):
        for y in x:
            yield from tensors_in(y)
    elif isinstance(x, dict):
        for y in x.values():
            yield from tensors_in(y)


def add(d, k, v):
    d[k] = d.get(k, 0) + v


# ----------------------------------------------------------------------------------------
# parameters, buffers, gradients, optimizer state


def param_stats(model):
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    bn = 0
    other = []
    for bname, b in model.named_buffers():
        leaf = bname.rsplit(".", 1)[-1]
        if leaf in ("running_mean", "running_var") and b.is_floating_point():
            bn += b.numel()
        else:
            other.append({"name": bname, "dtype": dtype_name(b.dtype), "elements": b.numel(),
                          "bytes": nbytes(b)})
    summary = {}
    for o in other:
        k = f"{o['name'].rsplit('.', 1)[-1]}:{o['dtype']}"
        s = summary.setdefault(k, {"count": 0, "elements": 0, "bytes": 0})
        s["count"] += 1
        s["elements"] += o["elements"]
        s["bytes"] += o["bytes"]
    return {"params": params, "trainableParams": trainable,
            "paramTensors": sum(1 for _ in model.parameters()),
            "trainableParamTensors": sum(1 for p in model.parameters() if p.requires_grad),
            "bnBuffers": bn, "bnBufferBytes": 4 * bn,
            "otherBuffersSummary": summary, "otherBuffers": other}


def optimizer_state(pristine, trained, kind):
    model = copy.deepcopy(pristine)
    for p, q in zip(model.parameters(), trained.parameters()):
        p.grad = None if q.grad is None else q.grad.detach().clone()
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
    elif kind == "momentum":
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    elif kind == "adam":
        opt = torch.optim.Adam(model.parameters())
    else:
        raise ValueError(kind)
    opt.step()
    per_el = per_t = 0
    keys = {}
    for p in model.parameters():
        for k, v in opt.state.get(p, {}).items():
            if isinstance(v, torch.Tensor):
                desc = f"{dtype_name(v.dtype)}[{'numel(p)' if v.numel() == p.numel() else list(v.shape)}]"
                if v.numel() == p.numel() and v.dim() > 0:
                    per_el += nbytes(v)
                else:
                    per_t += nbytes(v)
            else:
                desc = type(v).__name__  # SGD without momentum stores momentum_buffer=None
            keys.setdefault(k, set()).add(desc)
    return {"stateBytes": {"perElement": per_el, "perTensor": per_t, "total": per_el + per_t},
            "stateKeys": {k: sorted(v) for k, v in keys.items()},
            "paramsWithState": len(opt.state)}


# ----------------------------------------------------------------------------------------
# saved tensors


class FuncTracker(TorchFunctionMode):
    """Remembers the outermost Python-level torch function in progress and who produced
    each output storage."""

    def __init__(self, tracer):
        super().__init__()
        self.tracer = tracer

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        tr = self.tracer
        prev = tr.func, tr.func_call
        call = len(tr.func_io)
        ins = list(tensors_in(args)) + list(tensors_in(kwargs))
        tr.keep.extend(ins)
        tr.func_io.append({"in": {sptr(t) for t in ins if t.numel()}, "out": set()})
        tr.func, tr.func_call = name, call
        try:
            out = func(*args, **kwargs)
        finally:
            tr.func, tr.func_call = prev
        tr.func_io[call]["out"] = {sptr(t) for t in tensors_in(out) if t.numel()}
        tr.note_outputs(out, name)
        return out


class Tracer:
    def __init__(self, model):
        self.model = model
        self.current = None       # (path, type, call) of the running leaf module
        self.last = None          # path of the last leaf that finished
        self.func = None          # torch function in progress (from FuncTracker)
        self.func_call = None     # its index in func_io
        self.func_io = []         # per torch function call: input / output storages
        self.calls = {}
        self.keep = []            # keeps every seen tensor alive: no address reuse
        self.producer = {}        # storage ptr -> first producer description
        self.leaf_io = {}         # "path#call" -> {"in": set(storage), "out": set(storage)}
        self.outputs = []         # outputBytesPerLeaf rows
        self.packed = []          # one entry per pack call
        self.param_ptrs = set()
        self.param_storages = set()
        for t in list(model.parameters()) + list(model.buffers()):
            self.param_ptrs.add(t.data_ptr())
            self.param_storages.add(sptr(t))
        self.handles = []
        for path, mod in model.named_modules():
            if len(list(mod.children())) != 0:
                continue
            self.handles.append(mod.register_forward_pre_hook(self._pre(path)))
            self.handles.append(mod.register_forward_hook(self._post(path)))

    def note_outputs(self, out, func):
        if self.current is not None:
            who = f"{self.current[0]}#{self.current[2]}"
        else:
            who = f"{func} after {self.last}"
        for t in tensors_in(out):
            self.keep.append(t)
            if t.numel() > 0:
                self.producer.setdefault(sptr(t), who)

    def where(self):
        if self.current is not None:
            return self.current
        return (f"<functional after {self.last}>", "functional", None)

    def _pre(self, path):
        def hook(m, inp):
            n = self.calls.get(path, 0)
            self.calls[path] = n + 1
            self.current = (path, type(m).__name__, n)
            key = f"{path}#{n}"
            ins = [t for t in tensors_in(inp)]
            self.keep.extend(ins)
            self.leaf_io[key] = {"in": {sptr(t) for t in ins}, "out": set()}
        return hook

    def _post(self, path):
        def hook(m, inp, out):
            path_, typ, n = self.current
            assert path_ == path, (path_, path)
            key = f"{path}#{n}"
            outs = list(tensors_in(out))
            self.keep.extend(outs)
            self.leaf_io[key]["out"] = {sptr(t) for t in outs}
            ins = self.leaf_io[key]["in"]
            for t in outs:
                self.producer.setdefault(sptr(t), key)
                self.outputs.append({
                    "module": path, "type": typ, "call": n,
                    "shape": list(t.shape), "dtype": dtype_name(t.dtype), "bytes": nbytes(t),
                    "inplace": sptr(t) in ins})
            self.current = None
            self.last = path
        return hook

    def pack(self, t):
        idx = len(self.packed)
        mod, typ, call = self.where()
        is_param = t.data_ptr() in self.param_ptrs or sptr(t) in self.param_storages
        self.packed.append({"tensor": t, "module": mod, "moduleType": typ, "call": call,
                            "torchFunction": self.func, "funcCall": self.func_call,
                            "isParam": is_param,
                            "gradFn": None, "slot": None})
        return idx

    def unpack(self, idx):
        e = self.packed[idx]
        if self._accessor is not None and e["gradFn"] is None:
            e["gradFn"], e["slot"] = self._accessor
        return e["tensor"]

    _accessor = None

    def walk_graph(self, root):
        """Read every _saved_* attribute of every node; unpack tells which entry it is."""
        seen = set()
        stack = [root]
        nodes = 0
        self.copy_slices = 0
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            nodes += 1
            if node.name().endswith("CopySlices"):
                self.copy_slices += 1
            for attr in dir(node):
                if attr.startswith("_saved_"):
                    self._accessor = (node.name(), attr[len("_saved_"):])
                    try:
                        getattr(node, attr)
                    except RuntimeError:
                        pass
                    finally:
                        self._accessor = None
            for nxt, _ in node.next_functions:
                stack.append(nxt)
        return nodes

    def remove(self):
        for h in self.handles:
            h.remove()


def role_of(tr, e, fn=False):
    """Is the saved tensor the input or the output of its leaf module call (fn=False) or of
    the torch function call in progress (fn=True)?"""
    s = sptr(e["tensor"])
    if fn:
        if e["funcCall"] is None:
            return "none"
        io = tr.func_io[e["funcCall"]]
    else:
        if e["call"] is None:
            return "functional"
        io = tr.leaf_io[f"{e['module']}#{e['call']}"]
    i, o = s in io["in"], s in io["out"]
    if i and o:
        return "input=output"
    if i:
        return "input"
    if o:
        return "output"
    return "other"


def plain_saved_bytes(model, x):
    """Cross-check without module hooks or TorchFunctionMode: distinct non-parameter storages
    packed during one forward (numel*element_size of the first sighting)."""
    params = {sptr(t) for t in list(model.parameters()) + list(model.buffers())}
    params |= {t.data_ptr() for t in list(model.parameters()) + list(model.buffers())}
    seen = {}
    keep = []

    def pack(t):
        keep.append(t)
        if t.data_ptr() not in params and sptr(t) not in params and t.numel() > 0:
            seen.setdefault(sptr(t), nbytes(t))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(seen.values()), len(keep)


def saved_analysis(model, x):
    tr = Tracer(model)
    tr.producer[sptr(x)] = "<model input>"
    tr.keep.append(x)
    with FuncTracker(tr), torch.autograd.graph.saved_tensors_hooks(tr.pack, tr.unpack):
        logits = model(x)
    tr.remove()
    loss = logits.sum()
    nodes = tr.walk_graph(loss.grad_fn)
    # An in-place op on a view (EfficientNet's Dropout(inplace=True) after torch.flatten) is
    # recorded as a CopySlices node that wraps the real node; Python cannot reach the wrapped
    # node, so its saved tensors are not found by the walk.
    for e in tr.packed:
        if e["gradFn"] is None and tr.copy_slices:
            e["gradFn"], e["slot"] = "<wrapped in CopySlices>", "?"

    records = []
    by_storage = OrderedDict()
    excluded = {"count": 0, "bytes": 0, "byGradFnSlot": {}}
    unreached = 0
    for idx, e in enumerate(tr.packed):
        t = e["tensor"]
        if e["gradFn"] is None:
            unreached += 1  # not reached and no CopySlices to explain it
        if e["isParam"]:
            excluded["count"] += 1
            excluded["bytes"] += nbytes(t)
            add(excluded["byGradFnSlot"], f"{e['gradFn']}.{e['slot']}", 1)
            continue
        role = role_of(tr, e)
        fn_role = role_of(tr, e, fn=True)
        key = sptr(t) if t.numel() > 0 else ("empty", idx)
        sighting = {"module": e["module"], "moduleType": e["moduleType"], "call": e["call"],
                    "torchFunction": e["torchFunction"], "gradFn": e["gradFn"],
                    "slot": e["slot"], "role": role, "fnRole": fn_role, "shape": list(t.shape),
                    "bytes": nbytes(t)}
        if key in by_storage:
            by_storage[key]["alsoSavedBy"].append(sighting)
            continue
        rec = {"i": len(records), **sighting, "dtype": dtype_name(t.dtype),
               "producer": tr.producer.get(sptr(t), "<internal to op>") if t.numel() else None,
               "alsoSavedBy": []}
        sb = snbytes(t)
        if sb != nbytes(t):
            rec["storageBytes"] = sb
        by_storage[key] = rec
        records.append(rec)

    summ = {"savedBytes": 0, "savedTensors": len(records),
            "savedStorageBytes": 0, "packCalls": len(tr.packed),
            "graphNodes": nodes, "copySlicesNodes": tr.copy_slices,
            "packsNotReachedFromLoss": unreached,
            "byDtype": {}, "byModuleType": {}, "byGradFnSlot": {}, "byRole": {},
            "laterSightings": sum(len(r["alsoSavedBy"]) for r in records),
            "laterSightingsByGradFnSlot": {},
            "excludedParamOrBuffer": excluded}
    for r in records:
        b = r["bytes"]
        summ["savedBytes"] += b
        summ["savedStorageBytes"] += r.get("storageBytes", b)
        add(summ["byDtype"], r["dtype"], b)
        add(summ["byModuleType"], r["moduleType"], b)
        add(summ["byGradFnSlot"], f"{r['gradFn']}.{r['slot']}", b)
        add(summ["byRole"], f"{r['moduleType']}:{r['role']}", b)
        for s in r["alsoSavedBy"]:
            add(summ["laterSightingsByGradFnSlot"], f"{s['moduleType']}:{s['gradFn']}.{s['slot']}", 1)

    # every non-parameter pack, before dedup: what each kind of op saves
    per_op = {}
    for r in records:
        for i, sg in enumerate([r] + r["alsoSavedBy"]):
            k = (f"{sg['moduleType']} | {sg['torchFunction']} | {sg['gradFn']}.{sg['slot']} | "
                 f"{sg['role']} | {sg['fnRole']}")
            o = per_op.setdefault(k, {"packs": 0, "bytesAllPacks": 0, "packsCounted": 0, "bytesCounted": 0,
                                      "dtypes": []})
            o["packs"] += 1
            o["bytesAllPacks"] += sg["bytes"]
            if i == 0:
                o["packsCounted"] += 1
                o["bytesCounted"] += sg["bytes"]
                if r["dtype"] not in o["dtypes"]:
                    o["dtypes"].append(r["dtype"])
    summ["perOpAllPacks"] = dict(sorted(per_op.items()))

    # per-module aggregates (first sightings only)
    per_module = OrderedDict()
    for r in records:
        k = r["module"] if r["call"] is None else f"{r['module']}#{r['call']}"
        m = per_module.setdefault(k, {"type": r["moduleType"], "bytes": 0, "tensors": 0})
        m["bytes"] += r["bytes"]
        m["tensors"] += 1

    out_total = sum(o["bytes"] for o in tr.outputs)
    out_by_type = {}
    for o in tr.outputs:
        add(out_by_type, o["type"], o["bytes"])
    outputs = {"totalBytes": out_total,
               "totalBytesExcludingInplace": sum(o["bytes"] for o in tr.outputs if not o["inplace"]),
               "byModuleType": out_by_type,
               "leaves": tr.outputs}
    tr.keep.clear()
    return logits, loss, summ, per_module, records, outputs


# ----------------------------------------------------------------------------------------


def analyse(name):
    pristine = build(name)
    model = copy.deepcopy(pristine).train()
    pristine.train()
    info = param_stats(model)
    torch.manual_seed(1)
    x = torch.randn(BATCH, *INPUT)
    torch.manual_seed(2)
    plain_bytes, plain_packs = plain_saved_bytes(copy.deepcopy(pristine).train(), x)
    torch.manual_seed(2)
    logits, loss, summ, per_module, records, outputs = saved_analysis(model, x)
    loss.backward()
    grad_bytes = sum(nbytes(p.grad) for p in model.parameters() if p.grad is not None)
    info["gradientBytes"] = grad_bytes
    info["logitsShape"] = list(logits.shape)
    info["optimizers"] = {k: optimizer_state(pristine, model, k) for k in ("sgd", "momentum", "adam")}
    info["saved"] = summ
    info["savedPerModule"] = per_module
    info["outputBytesPerLeaf"] = outputs
    info["savedTensors"] = records

    tp = info["trainableParams"]
    assert tp == EXPECTED_TRAINABLE[name], (name, tp, EXPECTED_TRAINABLE[name])
    assert grad_bytes == 4 * tp, (name, grad_bytes, 4 * tp)
    assert info["optimizers"]["sgd"]["stateBytes"]["total"] == 0, info["optimizers"]["sgd"]
    assert info["optimizers"]["momentum"]["stateBytes"]["perElement"] == 4 * tp, info["optimizers"]["momentum"]
    assert info["optimizers"]["adam"]["stateBytes"]["perElement"] == 8 * tp, info["optimizers"]["adam"]
    assert summ["packsNotReachedFromLoss"] == 0, summ
    # the instrumentation must not change what autograd saves
    assert (plain_bytes, plain_packs) == (summ["savedBytes"], summ["packCalls"]), \
        (name, plain_bytes, plain_packs, summ["savedBytes"], summ["packCalls"])
    return info


def main():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "test", "fixtures", "torch", "training.json")
    torch.set_num_threads(2)
    t0 = time.time()
    result = {
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "generator": "scripts/reference/torch_training.py",
        "batch": BATCH, "input": list(INPUT), "dtype": "float32", "mode": "train",
        "notes": (
            "One forward of a [2,3,224,224] float32 batch in train mode (BN batch statistics, dropout and "
            "stochastic depth active), loss = logits.sum(), backward. Saved tensors are what autograd's "
            "saved_tensors_hooks pack sees during the forward pass. Attribution: each pack is given to the "
            "leaf module (module without children) whose forward is running, tracked with forward pre-hooks "
            "and forward hooks; packs made while no leaf is running (residual add, torch.cat, torch.flatten, "
            "F.relu / F.adaptive_avg_pool2d / mul called in a model's forward()) go to "
            "'<functional after LAST_LEAF>' with moduleType 'functional'. 'torchFunction' is the outermost "
            "Python-level torch function in progress (TorchFunctionMode); 'gradFn'/'slot' name the autograd "
            "node and its _saved_<slot> attribute holding the tensor (found by reading every node's saved "
            "attributes after the forward pass). 'role' says whether the tensor shares storage with the "
            "module call's input, output, both (in-place), or neither ('other', e.g. BN save_mean, pool "
            "indices, the clone an in-place ReLU6/SiLU saves). 'producer' is the first leaf call "
            "('path#call'), torch function outside leaves ('FUNC after LAST_LEAF'), '<model input>', or "
            "'<internal to op>' (never returned to Python: BN save_mean/save_invstd, pool indices, "
            "clones) that first held the storage. Dedup: tensors that are parameters or buffers of the model "
            "(same data_ptr or same storage) are excluded (counted in excludedParamOrBuffer); the rest are "
            "deduplicated by storage (t.storage().data_ptr()), the first sighting counts with numel*"
            "element_size of the tensor as saved (storageBytes given when the storage is larger), later "
            "sightings of the same storage are listed in 'alsoSavedBy' and not counted. Every tensor seen is "
            "kept alive during the forward pass, so a storage address is never reused by another tensor. "
            "perOpAllPacks: every non-parameter pack before dedup, keyed 'moduleType | torchFunction | "
            "gradFn.slot | role | fnRole' (fnRole: role relative to the torch function call instead of the "
            "leaf module call), with bytesAllPacks (no dedup) and bytesCounted (first sightings only). "
            "savedBytes is cross-checked against a plain forward pass with only the pack hook (no module "
            "hooks, no TorchFunctionMode). Optimizer state: after one step on a deep copy with the same gradients; perElement = state "
            "tensors with the numel of their parameter, perTensor = the rest (Adam's scalar 'step')."),
        "models": {},
    }
    print(f"{'model':<16} {'trainable':>11} {'grad B':>11} {'adam B':>11} {'saved B':>12} {'outputs B':>12} {'s':>5}")
    for name in MODELS:
        t1 = time.time()
        info = analyse(name)
        result["models"][name] = info
        print(f"{name:<16} {info['trainableParams']:>11,} {info['gradientBytes']:>11,} "
              f"{info['optimizers']['adam']['stateBytes']['total']:>11,} {info['saved']['savedBytes']:>12,} "
              f"{info['outputBytesPerLeaf']['totalBytes']:>12,} {time.time() - t1:>5.1f}")
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    text = json.dumps(result, indent=1)
    if len(text) > 2_000_000:  # keep per-module aggregates + summaries only
        for info in result["models"].values():
            info.pop("savedTensors")
            info["outputBytesPerLeaf"].pop("leaves")
        result["trimmed"] = "per-tensor lists dropped (file would exceed 2 MB)"
        text = json.dumps(result, indent=1)
    with open(out_path, "w") as f:
        f.write(text)
        f.write("\n")
    print("wrote", out_path, f"({len(text):,} bytes, {time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
