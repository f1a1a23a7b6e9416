#!/usr/bin/env bash
# Trains one preset with several seeds and prints each test accuracy, then mean and
# standard deviation. Usage: scripts/seed_sweep.sh PRESET DATA_DIR SEED...
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${MNISTCNN:-./build/mnistcnn}  # the program to run; override to benchmark another build
preset=$1 data=$2
shift 2
out=runs/sweep/$preset
mkdir -p "$out"
for s in "$@"; do
  "$bin" train --preset "$preset" --data "$data" --seed "$s" --out "$out/seed$s.safetensors" \
    --log "$out/seed$s.jsonl" --json --quiet >"$out/seed$s.json"
done
/usr/bin/python3 - "$out" "$@" <<'PY'
import json, statistics, sys
out, seeds = sys.argv[1], sys.argv[2:]
accs = [json.load(open(f"{out}/seed{s}.json"))["test_accuracy"] for s in seeds]
for s, a in zip(seeds, accs): print(f"seed {s}: {100*a:.2f}%")
sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
print(f"mean {100*statistics.mean(accs):.3f}% sd {100*sd:.3f} min {100*min(accs):.2f}% max {100*max(accs):.2f}% over {len(accs)} seeds")
PY
