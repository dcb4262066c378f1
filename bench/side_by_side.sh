#!/usr/bin/env bash
# optlab and PyTorch on the same work, one after the other, on this machine.
# Needs full MNIST (../shared/datasets/mnist, data/mnist: `optlab data fetch mnist`, or
# $OPTLAB_DATA/mnist) and a Python with torch for the second half:
# PYTHON=/path/to/python bash bench/side_by_side.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EPOCHS=${EPOCHS:-20}
cargo build --release -q
OPTLAB=${CARGO_TARGET_DIR:-target}/release/optlab
DATA=()
TORCH_DATA=()
if [ -n "${OPTLAB_DATA:-}" ]; then
  DATA=(--data-dir "$OPTLAB_DATA")
  TORCH_DATA=(--data "$OPTLAB_DATA/mnist")
fi
echo "== optlab"
"$OPTLAB" bench --epochs "$EPOCHS" "${DATA[@]}"
echo "== PyTorch"
"$PYTHON" bench/torch_reference.py --epochs "$EPOCHS" --speed-epochs 3 "${TORCH_DATA[@]}"
