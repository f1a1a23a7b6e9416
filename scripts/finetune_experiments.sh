#!/usr/bin/env bash
# The fine-tuning experiments of docs/FINETUNING.md, end to end, printing one line of
# results per run (test accuracy, wall time of training, seconds per epoch).
#   bash scripts/finetune_experiments.sh [MNIST_DIR] [FASHION_DIR] [WORK_DIR]
# Needs build/mnistcnn (scripts/build.sh). Nothing else may load the CPU meanwhile: the
# times are compared with each other.
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST=${1:-../shared/data/mnist}
FASHION=${2:-../shared/data/fashion-mnist}
W=${3:-/tmp/mnistcnn-finetune}
M=build/mnistcnn
mkdir -p "$W"
T="--threads 2 --no-val -q --json"

row() {  # name, json file
  python3 - "$1" "$2" <<'PY'
import json, sys
j = json.load(open(sys.argv[2]))
ep = [e["epoch_seconds"] for e in j["epochs"]]
print(f"| {sys.argv[1]} | {100*j['test_accuracy']:.2f}% | {j['test_count']} | {j['train_seconds']:.1f} s | "
      f"{sum(ep)/len(ep):.2f} s | {len(ep)} |")
PY
}

echo "| run | test accuracy | test images | training time | s/epoch | epochs |"
echo "| --- | --- | --- | --- | --- | --- |"

# 1. Digits 0-4 -> 5-9 (Keras' mnist_transfer_cnn): the convnet trained on 0-4, its
#    convolutional layers frozen, the dense head retrained on 5-9; against the same network
#    trained from scratch on 5-9.
$M train --preset keras-mnist --data "$MNIST" --classes 0-4 --epochs 5 $T --out "$W/digits04.safetensors" > "$W/1a.json"
row "keras-mnist trained on 0-4 (5 epochs)" "$W/1a.json"
$M finetune --from "$W/digits04.safetensors" --data "$MNIST" --classes 5-9 --new-head 5 --freeze conv --lr 1e-3 \
  --epochs 5 $T --out "$W/ft59.safetensors" > "$W/1b.json"
row "0-4 model, conv frozen, new head on 5-9 (5 epochs)" "$W/1b.json"
$M train --preset keras-mnist --data "$MNIST" --classes 5-9 --epochs 5 $T --out "$W/scratch59.safetensors" > "$W/1c.json"
row "keras-mnist from scratch on 5-9 (5 epochs)" "$W/1c.json"

# 2. MNIST-pretrained -> Fashion-MNIST with N labelled images per class.
$M train --preset keras-mnist --data "$MNIST" --epochs 5 $T --out "$W/mnist.safetensors" > "$W/2.json"
row "keras-mnist on all of MNIST (the pretrained model)" "$W/2.json"
for n in 10 100 1000; do
  epochs=$(( n == 10 ? 40 : n == 100 ? 20 : 10 ))
  $M finetune --from "$W/mnist.safetensors" --data "$FASHION" --per-class $n --new-head 10 --freeze features \
    --lr 1e-3 --epochs $epochs $T --out "$W/f$n-frozen.safetensors" > "$W/2f$n.json"
  row "Fashion $n/class: MNIST features frozen + new head ($epochs epochs)" "$W/2f$n.json"
  $M finetune --from "$W/mnist.safetensors" --data "$FASHION" --per-class $n --new-head 10 \
    --lr 1e-3 --lr-mult "features=0.3" --epochs $epochs $T --out "$W/f$n-full.safetensors" > "$W/2a$n.json"
  row "Fashion $n/class: full fine-tuning, features at 0.3x lr ($epochs epochs)" "$W/2a$n.json"
  $M train --preset keras-mnist --data "$FASHION" --per-class $n --epochs $epochs $T --out "$W/f$n-scratch.safetensors" > "$W/2s$n.json"
  row "Fashion $n/class: from scratch ($epochs epochs)" "$W/2s$n.json"
done

# 3. Continue a finished run from its checkpoint with a lower learning rate.
$M train --preset keras-mnist --data "$MNIST" --epochs 5 $T --checkpoint-dir "$W/ck" --out "$W/k5.safetensors" > "$W/3a.json"
row "keras-mnist, 5 epochs (checkpointed)" "$W/3a.json"
$M train --preset keras-mnist --data "$MNIST" --epochs 8 --lr 1e-4 $T --checkpoint-dir "$W/ck" --resume "$W/ck" \
  --out "$W/k8.safetensors" > "$W/3b.json"
row "... resumed for 3 more epochs at lr 1e-4" "$W/3b.json"
$M train --preset keras-mnist --data "$MNIST" --epochs 8 $T --out "$W/k8-same.safetensors" > "$W/3c.json"
row "keras-mnist, 8 epochs at lr 1e-3 throughout (control)" "$W/3c.json"

# 5. Resume equivalence: interrupted after epoch 1 and resumed = uninterrupted.
$M train --preset keras-mnist --data "$MNIST" --epochs 2 --limit 10000 $T --checkpoint-dir "$W/eq" --out "$W/eq-full.safetensors" > /dev/null
$M train --preset keras-mnist --data "$MNIST" --epochs 2 --limit 10000 $T --resume "$W/eq/ckpt-e0001-s00000313.safetensors" \
  --out "$W/eq-resumed.safetensors" > /dev/null
echo
echo "resume equivalence (weights sha256):"
echo "  uninterrupted: $($M info --json "$W/eq-full.safetensors" | python3 -c 'import json,sys; print(json.load(sys.stdin)["weights_sha256"])')"
echo "  resumed:       $($M info --json "$W/eq-resumed.safetensors" | python3 -c 'import json,sys; print(json.load(sys.stdin)["weights_sha256"])')"
