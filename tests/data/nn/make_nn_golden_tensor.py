#!/usr/bin/env python3
"""Golden values, float32, for the tensor-wise pytorch-optimizer methods on the seminar's two
models (MLP and CNN) beyond make_nn_golden_modern.py: 4-D conv kernels, SOAP's preconditioning
of every dimension and its power-iteration refresh, MARS's Newton-Schulz and Lion steps,
LAMB's rectified branch, LARS with Nesterov, Adan's global clipping.

Run (needs torch 2.15, pytorch-optimizer 4.1.0):
    python3 make_nn_golden_tensor.py [MNIST_DIR]      (default: the repository's assets/mnist-subset)
Writes manifest_tensor.json and tensor_<model>_<case>.f32 next to this script. Initial
parameters are mlp_init.f32 / cnn_init.f32 (make_nn_golden.py), the batch is the first 32
training images; each case runs `steps` steps on that batch, one optimizer over all tensors.

Every case was chosen to be well conditioned: the reference run with 2 threads instead of 1, or
in float64, stays within a fraction of the test's tolerance (1e-5 of each tensor's largest
value). SOAP on these models with its defaults is not: the first eigendecomposition is of
rank-deficient statistics (a batch of 32), the update depends on the arbitrary basis LAPACK
returns for their null space, and torch itself with 2 threads lands 3e4 tolerances away.
Hence max_precondition_dim and a larger eps in the SOAP cases.
"""
import gzip, json, os, struct, sys
import numpy as np
import torch
from torch import nn
import pytorch_optimizer as po
from importlib.metadata import version

torch.set_num_threads(1)
here = os.path.dirname(os.path.abspath(__file__))
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "assets", "mnist-subset")


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


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(28 * 28, 64), nn.Linear(64, 10), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.net(x.view(x.size(0), -1))


class Conv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_layers = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.linear_layers = nn.Sequential(nn.Linear(14 * 14 * 3, 10), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.linear_layers(self.conv_layers(x).view(x.size(0), -1))


MODELS = {"mlp": Mlp, "cnn": Conv}

# (case, model, optlab name, pytorch-optimizer class, kwargs, steps)
CASES = [
    ("soap-dim10", "mlp", "soap", "SOAP", dict(lr=3e-3, precondition_frequency=2, max_precondition_dim=10, eps=1e-4), 4),
    ("soap-dim10", "cnn", "soap", "SOAP", dict(lr=3e-3, precondition_frequency=2, max_precondition_dim=10, eps=1e-3), 4),
    ("soap-4d-every-step", "cnn", "soap", "SOAP",
     dict(lr=3e-3, precondition_frequency=1, max_precondition_dim=3, eps=1e-4, correct_bias=False), 4),
    ("mars-shampoo", "cnn", "mars", "MARS", dict(lr=1e-3, mars_type="shampoo"), 3),
    ("mars-cautious-ams", "cnn", "mars", "MARS", dict(lr=3e-4, eps=1e-6, cautious=True, ams_bound=True), 3),
    ("mars-lion-1d", "cnn", "mars", "MARS", dict(lr=3e-4, mars_type="lion", optimize_1d=True), 3),
    ("lamb-wd", "cnn", "lamb", "Lamb", dict(lr=1e-2, weight_decay=0.01), 3),
    ("lamb-rectify-prenorm", "cnn", "lamb", "Lamb", dict(lr=1e-2, rectify=True, degenerated_to_sgd=True, pre_norm=True), 3),
    ("lars-nesterov", "cnn", "lars", "LARS", dict(lr=0.5, weight_decay=1e-3, nesterov=True), 3),
    ("adan-clip", "mlp", "adan", "Adan", dict(lr=1e-3, max_grad_norm=1.0, weight_decouple=True, weight_decay=0.02), 3),
    ("adan-wd", "cnn", "adan", "Adan", dict(lr=1e-3, weight_decay=0.02), 3),
]


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts]).numpy().astype("<f4")


def load_init(model, name):
    init = np.fromfile(os.path.join(here, f"{name}_init.f32"), dtype="<f4")
    off = 0
    with torch.no_grad():
        for p in model.parameters():
            n = p.numel()
            p.copy_(torch.from_numpy(init[off:off + n].copy()).reshape(p.shape))
            off += n
    assert off == init.size


manifest = {"torch_version": torch.__version__, "pytorch_optimizer_version": version("pytorch-optimizer"),
            "batch": "first 32 MNIST train images", "tolerance": "1e-5 of each tensor's largest value",
            "cases": []}
for case, mname, optlab, cls, kwargs, steps in CASES:
    model = MODELS[mname]()
    load_init(model, mname)
    opt = getattr(po, cls)(model.parameters(), **kwargs)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.NLLLoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    fn = f"tensor_{mname}_{case}.f32"
    flat(list(model.parameters())).tofile(os.path.join(here, fn))
    manifest["cases"].append(dict(case=case, model=mname, optlab=optlab, reference=f"pytorch-optimizer {cls}",
                                  kwargs=kwargs, steps=steps, losses_before_each_step=losses, params=fn))
    print(mname, case, losses)
with open(os.path.join(here, "manifest_tensor.json"), "w") as f:
    json.dump(manifest, f, indent=1)
