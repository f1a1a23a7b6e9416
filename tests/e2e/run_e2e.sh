#!/usr/bin/env bash
# The browser test (ctest label "e2e"): trains a small model (keras-mnist, 1 epoch on
# 12,000 images, ~10 s), then drives `mnistcnn serve` in Debian's headless Chromium
# through playwright-core (draw_digits.test.mjs). Where Chromium, node, playwright-core
# or MNIST is missing it prints why and exits 77, which ctest reports as skipped.
#   run_e2e.sh MNISTCNN_BINARY MNIST_DIR OUT_DIR
set -euo pipefail
bin=$1 mnist=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIPPED e2e browser test: $*"; exit 77; }

chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || skip "no Chromium at $chromium (Debian package 'chromium'; scripts/install-deps.sh installs it)"
command -v node >/dev/null || skip "no node (Debian package 'nodejs')"
if [ ! -d "$here/node_modules/playwright-core" ]; then
  command -v npm >/dev/null || skip "playwright-core not installed and no npm to install it"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || skip "npm ci in tests/e2e failed (no registry?)"
fi
[ -f "$mnist/train-images-idx3-ubyte.gz" ] || [ -f "$mnist/train-images-idx3-ubyte" ] ||
  skip "no MNIST at $mnist (mnistcnn data fetch mnist --dir $mnist)"

mkdir -p "$out"
# Passive waiting: on a busy 2-core machine spinning OpenMP threads slow training down many times.
OMP_WAIT_POLICY=passive "$bin" train --preset keras-mnist --epochs 1 --limit 12000 --no-val --quiet \
  --data "$mnist" --out "$out/model.safetensors"
cd "$here"
MNISTCNN_BIN=$bin E2E_MODEL=$out/model.safetensors MNIST_DIR=$mnist E2E_OUT=$out CHROMIUM=$chromium \
  node --test draw_digits.test.mjs
echo "screenshots in $out"
