#!/usr/bin/env python3
"""Torch's own gradients for the cases of manifest_modern.json whose 3-step result is decided
by the last bit of the network's float32 gradients, so that the optimizer can be checked on
exactly the gradients torch used.

Why: Muon's bfloat16 Newton-Schulz and MARS's nearly scale-free first step amplify one-ulp
differences of the gradient (a gradient sum over the batch in another order) into
differences far above the golden tolerance; torch itself moves by 0.2-0.3 of the largest
update when its gradients change by one ulp. Replaying torch's gradients checks the
optimizer's arithmetic; the end-to-end run with optlab's gradients is checked with the bound
torch's own sensitivity allows.

Run (torch 2.15, pytorch-optimizer 4.1.0):  python3 make_nn_grads_modern.py ../../../../shared/datasets/mnist
Writes mlp_<name>_grads.f32 (3 gradients, each in mlp_init.f32's layout) next to this script,
and checks that replaying them reproduces mlp_<name>_3steps.f32 exactly.
"""
import gzip, os, struct, sys
import numpy as np
import torch
from torch import nn
import pytorch_optimizer as po

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
data = sys.argv[1]

def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    nd = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw[4 + 4 * nd:], dtype=np.uint8).reshape(dims)

imgs = idx(os.path.join(data, "train-images-idx3-ubyte.gz"))[:32]
labels = idx(os.path.join(data, "train-labels-idx1-ubyte.gz"))[:32]
x = (((torch.tensor(imgs, dtype=torch.float32) / 255.0) - 0.1307) / 0.3081).unsqueeze(1)
y = torch.tensor(labels, dtype=torch.long)
net = nn.Sequential(nn.Linear(28 * 28, 64), nn.Linear(64, 10), nn.LogSoftmax(dim=1))
init = np.fromfile(os.path.join(here, "mlp_init.f32"), dtype="<f4")

def load(flat):
    with torch.no_grad():
        o = 0
        for p in net.parameters():
            n = p.numel()
            p.copy_(torch.from_numpy(flat[o:o + n].copy()).reshape(p.shape))
            o += n

def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts]).numpy().astype("<f4")

CASES = {
    "muon": lambda ps: [torch.optim.Muon([ps[0], ps[2]], lr=0.02), torch.optim.AdamW([ps[1], ps[3]], lr=1e-3)],
    "mars": lambda ps: [po.MARS(ps, lr=3e-3)],
}
for name, make in CASES.items():
    load(init)
    opts = make(list(net.parameters()))
    grads = []
    for _ in range(3):
        for o in opts:
            o.zero_grad()
        nn.NLLLoss()(net(x.view(32, -1)), y).backward()
        grads.append(flat([p.grad for p in net.parameters()]))
        for o in opts:
            o.step()
    after = flat(list(net.parameters()))
    want = np.fromfile(os.path.join(here, f"mlp_{name}_3steps.f32"), dtype="<f4")
    assert np.array_equal(after, want), f"{name}: this run does not reproduce the golden parameters"
    np.concatenate(grads).tofile(os.path.join(here, f"mlp_{name}_grads.f32"))
    print(name, "ok")
