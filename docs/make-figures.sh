#!/usr/bin/env bash
# Regenerates the figures the README shows (run from the repository root).
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
rm -rf "$tmp"
echo "docs/ figures updated"
