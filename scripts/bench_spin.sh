#!/usr/bin/env bash
# OpenMP spin-wait, side by side: one keras-mnist epoch on 12,800 images with libgomp's
# default spin (GOMP_SPINCOUNT=300000), the program's own setting (10000) and a short one
# (1000, the program's setting before 2026-12-02), on a
# quiet machine and beside one busy process (a stand-in for a build or a second
# training), ROUNDS times each, alternating. Prints the median epoch time of each case.
#   bash scripts/bench_spin.sh [MNIST_DIR] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/mnist}
ROUNDS=${2:-3}
M=${MNISTCNN:-build/mnistcnn}
tmp=$(mktemp -d)
hog=
trap 'rm -rf "$tmp"; [ -n "$hog" ] && kill "$hog" 2>/dev/null || true' EXIT
epoch() {  # spin count -> seconds of the epoch
  GOMP_SPINCOUNT=$1 "$M" train --preset keras-mnist --data "$DATA" --limit 12800 --epochs 1 --no-val --threads 2 \
    -q --json --out "$tmp/m.safetensors" | python3 -c "import json,sys; print(json.load(sys.stdin)['epochs'][0]['epoch_seconds'])"
}
for load in quiet busy; do
  if [ $load = busy ]; then (while :; do :; done) & hog=$!; fi
  for r in $(seq "$ROUNDS"); do
    for spin in 300000 10000 1000; do echo "$load $spin $(epoch $spin)" >> "$tmp/times"; done
  done
  if [ -n "$hog" ]; then kill "$hog"; hog=; fi
done
python3 - "$tmp/times" <<'PY'
import statistics, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    load, spin, s = line.split(); t[(load, spin)].append(float(s))
print("| machine | GOMP_SPINCOUNT=300000 (libgomp default) | 10000 (mnistcnn) | 1000 |")
print("| --- | --- | --- | --- |")
for load in ("quiet", "busy"):
    cell = lambda k: f"{statistics.median(t[(load, k)]):.2f} s (" + ", ".join(f"{x:.2f}" for x in t[(load, k)]) + ")"
    print(f"| {load} | {cell('300000')} | {cell('10000')} | {cell('1000')} |")
PY
