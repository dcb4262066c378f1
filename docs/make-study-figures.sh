#!/usr/bin/env bash
# The measured example of docs/guide/scaling-out.md and its figures: examples/study.toml (the
# seminar's four optimizers × 8 learning rates × 5 seeds on its MLP, 3 epochs; 160 trials)
# planned, run on this machine under /usr/bin/time, reported, and three of the report's
# figures copied to docs/.
#
#   bash docs/make-study-figures.sh                    # the embedded MNIST subset (the default)
#   DATA=../shared/datasets bash docs/make-study-figures.sh   # full MNIST from that folder
#
# Writes out/study-readme[-full]/ (the study folder and its report) and docs/study-*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
B=target/release/optlab
STUDY=examples/study.toml
OUT=out/study-readme
SUFFIX=
if [ -n "${DATA:-}" ]; then
  OUT=out/study-readme-full
  SUFFIX=-full
  mkdir -p "$OUT"
  sed -e 's/^data = "subset".*/data = "full"/' -e "s|^# data_dir = .*|data_dir = \"$(cd "$DATA" && pwd)\"|" \
    "$STUDY" >"$OUT.toml"
  STUDY=$OUT.toml
fi
rm -rf "$OUT"
"$B" study plan "$STUDY" --out "$OUT"
/usr/bin/time -f "wall %e s, user %U s, peak memory %M KB" "$B" study run "$OUT" >"$OUT.run.log" 2>"$OUT.time"
tail -n 1 "$OUT.run.log"
cat "$OUT.time"
"$B" study report "$OUT"
cp "$OUT/report/lr-mlp-mnist.png" "docs/study-lr$SUFFIX.png"
cp "$OUT/report/curves-mlp-mnist.png" "docs/study-curves$SUFFIX.png"
cp "$OUT/report/profiles.png" "docs/study-profiles$SUFFIX.png"
echo "wrote docs/study-lr$SUFFIX.png, docs/study-curves$SUFFIX.png, docs/study-profiles$SUFFIX.png"
