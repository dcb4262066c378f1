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
if "$PYTHON" -c 'import torch' 2>/dev/null; then
  "$PYTHON" bench/torch_reference.py --epochs "$EPOCHS" --speed-epochs 3 "${TORCH_DATA[@]}"
else
  echo "skipped: $PYTHON cannot import torch ($("$PYTHON" -c 'import torch' 2>&1 | tail -1))"
fi
# The GPT rows (optlab's are in the bench output above: the nanoGPT AdamW recipe and
# Muon + AdamW, batch 12x64, 3.81 GFLOP per step). PyTorch 2.15's on the same model, batch
# and optimizers, one thread, as recorded in ../shared/golden/README.md (AMD EPYC Zen 3):
echo "== PyTorch GPT (recorded: ../shared/golden/README.md, PyTorch 2.15, one AMD EPYC Zen 3 core)"
echo "gpt  adamw (nanoGPT recipe)  80 ms/step"
echo "gpt  muon + adamw            914 ms/step"
