#!/usr/bin/env python3
"""Makes the MNIST subset embedded in optlab: the first 10,000 training and the first 2,000
test images (and labels) of the real MNIST files, as gzipped IDX with the original headers
rewritten for the smaller counts. Deterministic (gzip mtime 0).

Usage: python3 scripts/make-mnist-subset.py ../shared/datasets/mnist assets/mnist-subset
"""
import gzip
import os
import struct
import sys

src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for split, n in (("train", 10_000), ("t10k", 2_000)):
    for kind, magic, item in (("images-idx3-ubyte", 2051, 28 * 28), ("labels-idx1-ubyte", 2049, 1)):
        name = f"{split}-{kind}"
        path = os.path.join(src, name + ".gz")
        with gzip.open(path, "rb") as f:
            raw = f.read()
        got_magic, count = struct.unpack(">II", raw[:8])
        assert got_magic == magic, (name, got_magic)
        header = 16 if magic == 2051 else 8
        body = raw[header : header + n * item]
        out = struct.pack(">II", magic, n) + raw[8:header] + body
        with open(os.path.join(dst, name + ".gz"), "wb") as fh:
            with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as g:
                g.write(out)
        print(f"{name}: {n} of {count}")
