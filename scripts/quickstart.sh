#!/usr/bin/env bash
# From a fresh clone to a trained model: install the Debian packages, build, fetch and
# verify MNIST into data/mnist, train the default network (keras-mnist with its seed
# recipe) and print its test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/mnistcnn data fetch mnist --dir data/mnist
./build/mnistcnn train --preset keras-mnist --data data/mnist --out models/keras-mnist.safetensors \
  --log models/keras-mnist.jsonl
