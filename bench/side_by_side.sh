#!/usr/bin/env bash
# optlab and PyTorch on the same work, one after the other, on this machine.
# Needs full MNIST (../shared/datasets/mnist or data/mnist: `optlab data fetch mnist`) and a
# Python with torch for the second half: PYTHON=/path/to/python bash bench/side_by_side.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EPOCHS=${EPOCHS:-20}
cargo build --release -q
echo "== optlab"
./target/release/optlab bench --epochs "$EPOCHS"
echo "== PyTorch"
"$PYTHON" bench/torch_reference.py --epochs "$EPOCHS" --speed-epochs 3
