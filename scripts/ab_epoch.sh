#!/usr/bin/env bash
# Side-by-side timing of several builds of mnistcnn: runs each program in turn, ROUNDS
# times, on the same training job, and prints the median epoch time and images/s of each.
# Usage: scripts/ab_epoch.sh DATA_DIR ROUNDS "TRAIN FLAGS" PROGRAM...
# e.g.  scripts/ab_epoch.sh ../shared/data/mnist 3 "--preset keras-mnist --threads 2" /tmp/old/mnistcnn build/mnistcnn
set -euo pipefail
data=$1 rounds=$2 flags=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  i=0
  for prog in "$@"; do
    # shellcheck disable=SC2086
    "$prog" train $flags --data "$data" --epochs 1 --no-val --quiet --json --out "$tmp/m.safetensors" >>"$tmp/$i.jsonl"
    i=$((i + 1))
  done
done
i=0
for prog in "$@"; do
  /usr/bin/python3 - "$tmp/$i.jsonl" "$prog" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
secs = [r["epochs"][0]["epoch_seconds"] for r in runs]
print(f"{sys.argv[2]}: median {statistics.median(secs):.2f} s/epoch over {len(secs)} runs "
      f"(min {min(secs):.2f}, max {max(secs):.2f}); runs: " + ", ".join(f"{s:.2f}" for s in secs))
PY
  i=$((i + 1))
done
