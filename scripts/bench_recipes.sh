#!/usr/bin/env bash
# Trains each seed preset with its own recipe on the real MNIST and prints a Markdown
# table: test accuracy, mean epoch wall time (training only) and evaluation throughput.
# Usage: scripts/bench_recipes.sh [DATA_DIR] [OUT_DIR] [PRESET...]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${MNISTCNN:-./build/mnistcnn}  # the program to run; override to benchmark another build
data=${1:-data/mnist}
out=${2:-runs/recipes}
shift 2 2>/dev/null || true
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(keras-mnist lenet keras-mnist-fc128 tf-tutorial)
mkdir -p "$out"
echo "| preset | epochs | batch | test accuracy | test loss | s/epoch (mean) | eval images/s |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for p in "${presets[@]}"; do
  "$bin" train --preset "$p" --data "$data" --out "$out/$p.safetensors" --log "$out/$p.jsonl" \
    --json --quiet >"$out/$p.train.json"
  "$bin" eval --model "$out/$p.safetensors" --data "$data" --batch-size 256 --json >"$out/$p.eval.json"
  /usr/bin/python3 - "$p" "$out" <<'PY'
import json, sys
p, out = sys.argv[1], sys.argv[2]
t = json.load(open(f"{out}/{p}.train.json"))
e = json.load(open(f"{out}/{p}.eval.json"))
secs = [r["epoch_seconds"] for r in t["epochs"]]
print(f"| `{p}` | {len(secs)} | {t['recipe']['batch_size']} | {100*e['accuracy']:.2f}% | {e['loss']:.4f} | {sum(secs)/len(secs):.2f} | {e['images_per_second']:.0f} |")
PY
done
