#!/usr/bin/env bash
# The playground screenshot in docs/guide/playground.md (run from the repository root; needs Debian's
# chromium): starts `optlab serve`, photographs a link with headless chromium, stops it.
set -euo pipefail
cargo build --release
port=${PORT:-18080}
./target/release/optlab serve --port "$port" >/dev/null &
server=$!
trap 'kill $server' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/functions" >/dev/null && break; sleep 0.1; done
profile=$(mktemp -d)
link="http://127.0.0.1:$port/?function=sin-cos&start=7.6,2.4&steps=500&optimizer=gd(lr%3D0.1)&optimizer=momentum(lr%3D0.1)&optimizer=nag(lr%3D0.1)&optimizer=adagrad(lr%3D0.1)&optimizer=adadelta(lr%3D0.1)&optimizer=adam(lr%3D0.1)"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir="$profile" --hide-scrollbars --window-size=1240,1000 \
  --virtual-time-budget=8000 --screenshot=docs/playground.png "$link" 2>/dev/null
rm -rf "$profile"
echo "wrote docs/playground.png"
