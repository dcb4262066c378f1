#!/usr/bin/env python3
"""The seminar's part 2 in PyTorch, written for speed, to measure beside `optlab bench`.

Same work as optlab: the seminar's MLP (Linear(784,64) -> Linear(64,10) -> LogSoftmax) and CNN
(Conv2d(1,3,3,padding=1) -> ReLU -> MaxPool2d(2) -> Linear(588,10) -> LogSoftmax), NLLLoss,
batch 32, Adam / Adagrad / Adadelta (torch defaults) and SGD(lr=0.01), test evaluation after
every epoch. Best effort on the PyTorch side: the whole training set is normalised once into
one float tensor and batches are taken by index (no DataLoader), one thread per run.

Usage:
    python3 bench/torch_reference.py [--data DIR] [--epochs 20] [--speed-epochs 3]
DIR holds the four MNIST files (gzipped or raw); default: ../shared/datasets/mnist, else
data/mnist (`optlab data fetch mnist` puts them there).
"""
import argparse
import gzip
import os
import statistics
import struct
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    for p in (path + ".gz", path):
        if os.path.exists(p):
            with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
                raw = f.read()
            nd = raw[3]
            dims = struct.unpack(">" + "I" * nd, raw[4 : 4 + 4 * nd])
            return np.frombuffer(raw[4 + 4 * nd :], dtype=np.uint8).reshape(dims)
    raise SystemExit(f"missing {path}(.gz)")


def load(data):
    xs = {}
    for split in ("train", "t10k"):
        img = read_idx(os.path.join(data, f"{split}-images-idx3-ubyte"))
        lab = read_idx(os.path.join(data, f"{split}-labels-idx1-ubyte"))
        x = ((torch.tensor(img, dtype=torch.float32) / 255.0) - 0.1307) / 0.3081
        xs[split] = (x.unsqueeze(1).contiguous(), torch.tensor(lab, dtype=torch.long))
    return xs


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 64), nn.Linear(64, 10), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.net(x.view(x.size(0), -1))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Linear(588, 10), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.fc(self.conv(x).view(x.size(0), -1))


OPTIMIZERS = {
    "adam": lambda p: torch.optim.Adam(p),
    "adagrad": lambda p: torch.optim.Adagrad(p),
    "adadelta": lambda p: torch.optim.Adadelta(p),
    "sgd(lr=0.01)": lambda p: torch.optim.SGD(p, lr=0.01),
}


def train(model_cls, opt_name, xs, epochs, evaluate=True, seed=0):
    torch.manual_seed(seed)
    model = model_cls()
    opt = OPTIMIZERS[opt_name](model.parameters())
    loss_fn = nn.NLLLoss()
    x, y = xs["train"]
    xt, yt = xs["t10k"]
    n = x.shape[0]
    times, acc = [], None
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n)
        for i in range(0, n, 32):
            idx = order[i : i + 32]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
        if evaluate:
            with torch.no_grad():
                correct = 0
                for i in range(0, xt.shape[0], 500):
                    correct += (model(xt[i : i + 500]).argmax(1) == yt[i : i + 500]).sum().item()
                acc = correct / xt.shape[0]
        times.append(time.perf_counter() - t0)
    return times, acc


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "..", "shared", "datasets", "mnist")
    if not os.path.isdir(default):
        default = os.path.join(here, "..", "data", "mnist")
    ap.add_argument("--data", default=default)
    ap.add_argument("--epochs", type=int, default=20, help="epochs of the whole part-2 run (0 skips it)")
    ap.add_argument("--speed-epochs", type=int, default=3, help="epochs timed per model and optimizer")
    a = ap.parse_args()
    torch.set_num_threads(1)
    xs = load(a.data)
    print(f"torch {torch.__version__}, {xs['train'][0].shape[0]} training images, 1 thread")
    for name, cls in (("mlp", Mlp), ("cnn", Cnn)):
        for opt in ("sgd(lr=0.01)", "adam"):
            times, _ = train(cls, opt, xs, a.speed_epochs, evaluate=False)
            print(f"{name:4s} {opt:13s} {statistics.median(times):.3f} s/epoch (median of {len(times)})")
    if a.epochs > 0:
        t0 = time.perf_counter()
        for name, cls in (("mlp", Mlp), ("cnn", Cnn)):
            accs = []
            for opt in OPTIMIZERS:
                _, acc = train(cls, opt, xs, a.epochs)
                accs.append(f"{opt} {acc:.4f}")
            print(f"  {name} final test accuracy: {', '.join(accs)}")
        print(f"seminar part 2 ({a.epochs} epochs, 2 models x 4 optimizers, sequential, 1 thread): {time.perf_counter() - t0:.1f} s wall")


if __name__ == "__main__":
    main()
