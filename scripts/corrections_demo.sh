#!/usr/bin/env bash
# The "teach it your handwriting" loop of docs/DEMO.md, measured without a person: a
# simulated writer whose digits are warped (rotation, shear, elastic distortion, stroke
# thickness; always the same seeded style) corrects the server through its API, and
# `finetune` on the corrections folder, with MNIST replayed, learns the style.
#   bash scripts/corrections_demo.sh [MNIST_DIR] [WORK_DIR] [PORT]
# Prints accuracy before and after on 1,000 held-out digits in the writer's style and on
# MNIST's test set. Needs build/mnistcnn and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST=${1:-../shared/data/mnist}
W=${2:-/tmp/mnistcnn-corrections}
PORT=${3:-18087}
M=build/mnistcnn
STYLE="none,rotate=25,shear=20,elastic=1,elastic_alpha=50,thickness=0.5"
rm -rf "$W" && mkdir -p "$W"

acc() {  # model, data dir, extra flags -> accuracy in percent
  $M eval --model "$1" --data "$2" ${3:-} --json 2>/dev/null | python3 -c 'import json,sys; print("%.2f%%" % (100*json.load(sys.stdin)["accuracy"]))'
}

$M train --preset keras-mnist --data "$MNIST" -q --out "$W/base.safetensors"
# The writer: 30 digits of each class (training images) to correct with, 1,000 other
# digits (test images) to judge by, all in the writer's style.
$M data export --data "$MNIST" --split train --per-class 30 --seed 11 --augment "$STYLE" --out "$W/writer-samples"
$M data export --data "$MNIST" --split test --limit 1000 --seed 12 --augment "$STYLE" --out "$W/writer-heldout"

# The writer corrects every sample the model gets wrong, through the server as the page does.
$M serve --model "$W/base.safetensors" --corrections "$W/corrections" --port "$PORT" --data "$MNIST" 2>"$W/serve.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
wrong=0 total=0
for dir in "$W"/writer-samples/*/; do
  label=$(basename "$dir")
  for png in "$dir"*.png; do
    total=$((total + 1))
    got=$(curl -sf -H 'Content-Type: image/png' --data-binary @"$png" "http://127.0.0.1:$PORT/api/predict?explain=0" |
          python3 -c 'import json,sys; print(json.load(sys.stdin).get("label"))')
    if [ "$got" != "$label" ]; then
      wrong=$((wrong + 1))
      curl -sf -H 'Content-Type: image/png' --data-binary @"$png" "http://127.0.0.1:$PORT/api/correct?label=$label" >/dev/null
    fi
  done
done
kill $server; wait $server 2>/dev/null || true
echo "the writer's $total samples: $wrong misread and corrected through /api/correct"

# Fine-tune on the corrections with 2,000 MNIST training images replayed; every class
# folder keeps its images for training (--test-split 0.2 of each class is held out).
$M finetune --from "$W/base.safetensors" --data "$W/corrections" --replay-count 2000 --replay "$MNIST" \
  --epochs 10 --lr 5e-4 --no-val -q --out "$W/mine.safetensors" > /dev/null
# For comparison: a writer who also confirms the digits read right (all 300 samples).
$M finetune --from "$W/base.safetensors" --data "$W/writer-samples" --replay-count 2000 --replay "$MNIST" \
  --epochs 10 --lr 5e-4 --no-val -q --out "$W/all.safetensors" > /dev/null
echo "| model | writer's held-out digits (1,000) | MNIST test (10,000) |"
echo "| --- | --- | --- |"
echo "| before: keras-mnist | $(acc "$W/base.safetensors" "$W/writer-heldout" "--test-split 1") | $(acc "$W/base.safetensors" "$MNIST") |"
echo "| after: fine-tuned on the $wrong corrections | $(acc "$W/mine.safetensors" "$W/writer-heldout" "--test-split 1") | $(acc "$W/mine.safetensors" "$MNIST") |"
echo "| after: fine-tuned on all $total samples | $(acc "$W/all.safetensors" "$W/writer-heldout" "--test-split 1") | $(acc "$W/all.safetensors" "$MNIST") |"
