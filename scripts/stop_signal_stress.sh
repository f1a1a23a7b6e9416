#!/usr/bin/env bash
# Stops a short lenet training with a signal right after its first checkpoint, RUNS times,
# beside a busy loop on one core (as a test suite or a build would be), and counts the
# runs that did not exit as stopped by that signal (128 + its number).
#   bash scripts/stop_signal_stress.sh [RUNS] [MNIST_DIR] [SIGNAL]
# e.g. bash scripts/stop_signal_stress.sh 30 ../shared/data/mnist TERM
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30} data=$(realpath "${2:-../shared/data/mnist}") sig=${3:-TERM}
bin=${MNISTCNN:-$PWD/build/mnistcnn}
code=$((128 + $(kill -l "$sig")))
tmp=$(mktemp -d)
trap 'kill "$busy" 2>/dev/null; rm -rf "$tmp"' EXIT
sh -c 'while :; do :; done' &
busy=$!
bad=0
for r in $(seq "$runs"); do
  d="$tmp/r$r"
  mkdir -p "$d"
  # (A script's background job starts with SIGINT ignored, and mnistcnn leaves an ignored
  # signal alone: use TERM, or run this from an interactive shell, to test INT.)
  "$bin" train --preset lenet --data "$data" --limit 4000 --epochs 2 --no-val --seed 2 \
    --threads 2 -q --checkpoint-every 25 --checkpoint-dir "$d/ck" --out "$d/stopped.safetensors" 2>"$d/err" &
  pid=$!
  for _ in $(seq 4000); do [ -e "$d/ck/ckpt-e0000-s00000025.safetensors" ] && break; sleep 0.005; done
  kill -"$sig" "$pid"
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" != "$code" ]; then
    bad=$((bad + 1))
    echo "run $r: exit $rc: $(head -c 300 "$d/err")"
  fi
  rm -rf "$d"
done
echo "$bad of $runs runs did not stop as expected (exit $code)"
[ "$bad" = 0 ]
