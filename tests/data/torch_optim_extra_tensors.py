#!/usr/bin/env python3
"""Golden values, float32, for the tensor-wise methods ported from torch.optim (Muon with an
AdamW fallback, Adafactor, ASGD, LBFGS) on several tensors of different shapes at once:
matrices wide and tall (Muon transposes tall ones), long rows (the vectorised bfloat16 dot
product of torch's CPU kernels: 64-element blocks, 16-element blocks, a scalar tail), a
batch of matrices and a conv kernel (Adafactor factors the last two dims), vectors.

Objective, the same in both implementations and exact element by element:
    f(p) = sum(p^4/4 - T*p),   grad = (p*p)*p - T
(the loss summed in float64 and rounded to float32 once, the gradient in float32)
with fixed targets T, so that the gradients agree bit for bit and any difference comes from
the optimizer. Every case starts from the same parameters and targets (stored once); stored
per case are the parameters after its `steps` steps and the loss returned by each step.
Numbers are written with 9 significant digits (enough to read back every float32 exactly).

Muon accepts 2-D parameters only: a tensor with more dims is given to torch as the matrix
[shape[0], prod(rest)] (what optlab's Muon does with a conv kernel); tensors with fewer dims
go to torch.optim.AdamW, as optlab's `fallback`.

Run:  python3 torch_optim_extra_tensors.py   (torch 2.15; writes torch_optim_extra_tensors.json)
"""
import json
import math
import os

import torch

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))

LAYOUT = [("w1", [8, 100]), ("b1", [8]), ("w2", [70, 6]), ("k", [4, 2, 3, 3]), ("w3", [2, 3, 5]), ("s", [5])]


def tensors():
    g = torch.Generator().manual_seed(0)
    ps = [(torch.rand(shape, generator=g) * 2 - 1).float() for _, shape in LAYOUT]
    ts = [(torch.rand(shape, generator=g) * 2 - 1).float() * 0.5 for _, shape in LAYOUT]
    return ps, ts


def flat(ts):
    return [float(v) for t in ts for v in t.detach().reshape(-1).tolist()]


def muon_groups(ps, muon_kw, adamw_kw):
    mats = [p for p in ps if p.dim() >= 2]
    rest = [p for p in ps if p.dim() < 2]
    return [torch.optim.Muon(mats, **muon_kw), torch.optim.AdamW(rest, **adamw_kw)]


def run(case):
    ps0, ts = tensors()
    muon = case["class"] == "Muon"
    # torch's view of each tensor (Muon: matrices as [rows, prod(rest)])
    ps = []
    for p in ps0:
        q = p.clone()
        if muon and q.dim() > 2:
            q = q.reshape(q.shape[0], -1)
        ps.append(q.requires_grad_(True))
    tv = [t.reshape(p.shape) for t, p in zip(ts, ps)]
    if muon:
        opts = muon_groups(ps, case["kwargs"], case["fallback"])
    else:
        opts = [getattr(torch.optim, case["class"])(ps, **case["kwargs"])]

    def closure():
        for o in opts:
            o.zero_grad()
        with torch.no_grad():
            # the loss summed in float64 and rounded once, so both sides agree on it
            wide = [(p.double(), t.double()) for p, t in zip(ps, tv)]
            loss = torch.tensor(sum(float((p * p * p * p / 4 - t * p).sum()) for p, t in wide)).float()
            for p, t in zip(ps, tv):
                p.grad = p * p * p - t
        return loss

    losses = []
    for _ in range(case["steps"]):
        if case["class"] == "LBFGS":
            loss = opts[0].step(closure)
        else:
            loss = closure()
            for o in opts:
                o.step()
        losses.append(float(loss))
    return dict(params=flat(ps), losses=losses)


CASES = [
    dict(id="muon-default", **{"class": "Muon"}, kwargs=dict(lr=0.02), fallback=dict(lr=1e-3), steps=4,
         optlab="muon(lr=0.02, fallback=adamw(lr=1e-3))"),
    dict(id="muon-rms-plain", **{"class": "Muon"},
         kwargs=dict(lr=0.01, adjust_lr_fn="match_rms_adamw", nesterov=False, weight_decay=0.01),
         fallback=dict(lr=3e-3, weight_decay=0.0), steps=4,
         optlab="muon(lr=0.01, adjust_lr_fn=\"match_rms_adamw\", nesterov=false, weight_decay=0.01, "
                "fallback=adamw(lr=3e-3, weight_decay=0))"),
    dict(id="adafactor-default", **{"class": "Adafactor"}, kwargs=dict(lr=0.01), steps=5,
         optlab="adafactor(lr=0.01)"),
    dict(id="adafactor-wd-d", **{"class": "Adafactor"}, kwargs=dict(lr=0.05, weight_decay=0.1, d=1.2, beta2_decay=-0.5),
         steps=5, optlab="adafactor(lr=0.05, weight_decay=0.1, d=1.2, beta2_decay=-0.5)"),
    dict(id="asgd-avg", **{"class": "ASGD"}, kwargs=dict(lr=0.05, t0=2, lambd=1e-3), steps=5,
         optlab="asgd(lr=0.05, t0=2, lambd=1e-3)"),
    dict(id="lbfgs-wolfe", **{"class": "LBFGS"}, kwargs=dict(lr=1, max_iter=5, line_search_fn="strong_wolfe"),
         steps=3, optlab="lbfgs(lr=1, max_iter=5, line_search_fn=\"strong_wolfe\")"),
    dict(id="lbfgs-plain", **{"class": "LBFGS"}, kwargs=dict(lr=0.1, max_iter=4, history_size=3), steps=3,
         optlab="lbfgs(lr=0.1, max_iter=4, history_size=3)"),
]


class F32(float):
    """A float32 value, written with 9 significant digits."""

    def __repr__(self):
        return "%.9g" % self


def f32s(xs):
    return [F32(x) for x in xs]


def dumps(v):
    if isinstance(v, F32):
        return repr(v)
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    return json.dumps(v)


def main():
    ps0, ts = tensors()
    out = dict(torch=torch.__version__, dtype="float32", layout=[dict(name=n, shape=s) for n, s in LAYOUT],
               objective="sum(p^4/4 - T*p), grad = (p*p)*p - T", init=f32s(flat(ps0)), targets=f32s(flat(ts)),
               cases=[])
    for c in CASES:
        r = run(c)
        out["cases"].append(dict(c, params=f32s(r["params"]), losses=r["losses"]))
        print(c["id"], r["losses"])
    with open(os.path.join(here, "torch_optim_extra_tensors.json"), "w") as fh:
        fh.write(dumps(out))


if __name__ == "__main__":
    main()
