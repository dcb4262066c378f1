#!/usr/bin/env bash
# Regenerates the figures of the README and docs/guide (run from the repository root).
set -euo pipefail
cargo build --release
tmp=$(mktemp -d)
./target/release/optlab compare --function sin-cos --steps 500 --out "$tmp/sin-cos"
./target/release/optlab compare --function sin-cos --tuned --out "$tmp/sin-cos-tuned"
./target/release/optlab compare --function rosenbrock --optimizer "adam(lr=0.05)" "sgd(lr=1e-3, momentum=0.9)" "rmsprop(lr=0.01)" "nadam(lr=0.05)" --steps 2000 --out "$tmp/rosenbrock"
./target/release/optlab train --model cnn --subset --out "$tmp/cnn"
cp "$tmp/cnn/curves.png" docs/cnn-curves.png
cp "$tmp/cnn/curves_grid.png" docs/cnn-curves-grid.png
for k in contour surface loss; do cp "$tmp/sin-cos/$k.png" "docs/sin-cos-$k.png"; done
cp "$tmp/sin-cos-tuned/contour.png" docs/sin-cos-tuned-contour.png
cp "$tmp/rosenbrock/contour.png" docs/rosenbrock-contour.png
./target/release/optlab map --function himmelblau --optimizer "gd(lr=0.01)" "adam(lr=0.1)" "sgd(lr=0.01, momentum=0.9)" --grid 256 --out "$tmp/map"
cp "$tmp/map/panel.png" docs/himmelblau-map.png
./target/release/optlab sweep-lr --function rosenbrock --optimizer adam "sgd(momentum=0.9)" rmsprop --out "$tmp/sweep"
cp "$tmp/sweep/sweep.png" docs/rosenbrock-sweep.png
./target/release/optlab compare -f rosenbrock --shape 1x2 -o "adam(lr=0.05)" "lion(lr=0.01)" "sf-adamw(lr=0.05)" "muon(lr=0.02)" prodigy "soap(lr=0.05)" "adan(lr=0.05)" "lbfgs(lr=1, line_search_fn=\"strong_wolfe\")" --steps 1000 --x-axis evals --out "$tmp/modern-rosenbrock"
cp "$tmp/modern-rosenbrock/contour.png" docs/modern-rosenbrock-contour.png
cp "$tmp/modern-rosenbrock/loss.png" docs/modern-rosenbrock-loss.png
./target/release/optlab compare -f sin-cos --shape 1x2 -o lion sf-adamw muon prodigy soap adan lamb "lbfgs(line_search_fn=\"strong_wolfe\")" --tuned --out "$tmp/modern-sin-cos"
cp "$tmp/modern-sin-cos/contour.png" docs/modern-sin-cos-contour.png
./target/release/optlab compare -f quadratic --steps 200 -o "sgd(lr=0.1) | StepLR(step_size=50, gamma=0.5)" "sgd(lr=0.1) | CosineAnnealingWarmRestarts(T_0=40, T_mult=2)" "sgd(lr=0.1, momentum=0.9) | OneCycleLR(max_lr=0.1, total_steps=200)" "sgd(lr=0.1) | CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=25, mode=\"triangular2\")" "adamw(lr=0.1) | SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=30), CosineAnnealingLR(T_max=170)], milestones=[30])" --out "$tmp/schedulers"
cp "$tmp/schedulers/lr.png" docs/schedulers-lr.png
rm -rf "$tmp"
echo "docs/ figures updated"
