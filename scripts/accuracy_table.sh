#!/usr/bin/env bash
# The technique table of docs/ACCURACY.md: the keras-mnist network and recipe, then the
# same with one technique added at a time, then all of them; each trained for the same
# number of epochs on 54,000 images (6,000 held out for validation) with several seeds.
#   bash scripts/accuracy_table.sh [MNIST_DIR] [WORK_DIR] [EPOCHS] [SEEDS] [PARALLEL]
# Runs PARALLEL trainings at once with 2/PARALLEL threads each (default 2 x 1 thread: on
# two cores that trains more images per second than one 2-thread run). Prints a markdown
# table of validation and test accuracy (mean and min-max over the seeds) and the
# difference in mean test accuracy from the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST=${1:-../shared/data/mnist}
W=${2:-/tmp/mnistcnn-accuracy}
EPOCHS=${3:-10}
SEEDS=${4:-2}
PARALLEL=${5:-2}
M=${MNISTCNN:-$PWD/build/mnistcnn}
mkdir -p "$W"
THREADS=$(( 2 / PARALLEL > 0 ? 2 / PARALLEL : 1 ))

KERAS="conv(32,3) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dense(10)"
BN="conv(32,3) bn relu maxpool(2) conv(64,3) bn relu maxpool(2) flatten dense(10)"
DROP="conv(32,3) relu maxpool(2) conv(64,3) relu maxpool(2) flatten dropout(0.5) dense(10)"
ALL="conv(32,3) bn relu maxpool(2) conv(64,3) bn relu maxpool(2) flatten dropout(0.5) dense(10)"
# name|spec|extra flags
VARIANTS=(
  "baseline (keras-mnist)|$KERAS|"
  "+ augmentation (standard)|$KERAS|--augment standard"
  "+ batch norm|$BN|"
  "+ dropout 0.5 before the output|$DROP|"
  "+ cosine schedule, 1 epoch warm-up|$KERAS|--schedule cosine(warmup=1)"
  "+ EMA of weights (0.999)|$KERAS|--ema 0.999"
  "+ label smoothing 0.1|$KERAS|--label-smoothing 0.1"
  "all of the above|$ALL|--augment standard --schedule cosine(warmup=1) --ema 0.999 --label-smoothing 0.1"
)
RECIPE="--optimizer adam --lr 1e-3 --batch-size 32 --init glorot-uniform --normalize scale"

jobs_file="$W/jobs.txt"
: > "$jobs_file"
for v in "${!VARIANTS[@]}"; do
  for s in $(seq 1 "$SEEDS"); do
    out="$W/v$v-s$s.json"
    [ -s "$out" ] && continue  # finished in an earlier call
    echo "$v $s" >> "$jobs_file"
  done
done
run_one() {
  local v=$1 s=$2
  IFS='|' read -r name spec extra <<< "${VARIANTS[$v]}"
  # shellcheck disable=SC2086
  "$M" train --arch "$spec" --data "$MNIST" $RECIPE $extra --epochs "$EPOCHS" --val-split 0.1 --seed "$s" \
    --threads "$THREADS" -q --json --out "$W/v$v-s$s.safetensors" > "$W/v$v-s$s.json.tmp"
  mv "$W/v$v-s$s.json.tmp" "$W/v$v-s$s.json"
}
export -f run_one
export M MNIST RECIPE EPOCHS THREADS W
export VARIANTS_TEXT
VARIANTS_TEXT=$(printf '%s\n' "${VARIANTS[@]}")
# xargs runs a fresh bash per job; it rebuilds the array from the exported text.
xargs -P "$PARALLEL" -L 1 bash -c 'mapfile -t VARIANTS <<< "$VARIANTS_TEXT"; run_one "$0" "$1"' < "$jobs_file"

printf '%s\n' "${VARIANTS[@]}" > "$W/variants.txt"
python3 - "$W" "$SEEDS" <<'PY'
import json, sys, statistics as st
w, seeds = sys.argv[1], int(sys.argv[2])
rows = [l.rstrip("\n").split("|") for l in open(f"{w}/variants.txt") if l.strip()]
print("| variant | flags over the baseline | val accuracy (mean) | test accuracy mean (min-max) | Δ test | s/epoch (1 thread, machine shared) |")
print("| --- | --- | --- | --- | --- | --- |")
base = None
for v, (name, spec, extra) in enumerate(rows):
    runs = [json.load(open(f"{w}/v{v}-s{s}.json")) for s in range(1, seeds + 1)]
    val = [r["epochs"][-1]["val_accuracy"] * 100 for r in runs]
    test = [r["test_accuracy"] * 100 for r in runs]
    sec = st.mean(e["epoch_seconds"] for r in runs for e in r["epochs"])
    m = st.mean(test)
    if base is None: base = m
    flags = extra or ("spec: " + spec if v else "")
    if v and "bn" in spec and not extra: flags = "conv → conv bn"
    if v and "dropout" in spec and not extra: flags = "dropout(0.5) before dense(10)"
    if v == len(rows) - 1: flags = "BN + dropout + " + extra
    print(f"| {name} | {flags} | {st.mean(val):.2f}% | {m:.2f}% ({min(test):.2f}-{max(test):.2f}) | "
          f"{m - base:+.2f} | {sec:.1f} s |")
PY
