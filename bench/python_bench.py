"""The Python side of the bindings' overheads (cargo run --release --example python_bench
measures the same work in Rust): optlab.compare of the seminar's six optimizers x 500 steps,
and Optimizer.step of Adam on the seminar's MLP (50,890 float32 parameters).

    python bench/python_bench.py
"""

import statistics
import time

import numpy as np

import optlab

SIX = [f"{m}(lr=0.1)" for m in ["gd", "momentum", "nag", "adagrad", "adadelta", "adam"]]


def median_ms(f, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


for _ in range(10):
    optlab.compare("sin-cos", SIX)
print(f"optlab.compare, six optimizers x 500 steps: median {median_ms(lambda: optlab.compare('sin-cos', SIX), 200):.3f} ms")

shapes = [(64, 784), (64,), (10, 64), (10,)]
params = [np.full(s, 0.01, np.float32) for s in shapes]
shared_opt = optlab.Optimizer("adam", shapes=shapes)
shared = shared_opt.params(params)
grads = [np.full(s, 0.001, np.float32) for s in shapes]
opt = optlab.Optimizer("adam", shapes=shapes)
for _ in range(100):
    opt.step(params, grads)
print(f"Optimizer.step, adam on the MLP ({sum(p.size for p in params)} float32 parameters): "
      f"median {median_ms(lambda: opt.step(params, grads), 2000) * 1e3:.2f} µs")
for _ in range(100):
    shared_opt.step(shared, grads)
print(f"Optimizer.step on its own arrays (params()): "
      f"median {median_ms(lambda: shared_opt.step(shared, grads), 2000) * 1e3:.2f} µs")
