#!/usr/bin/env bash
# Configures and builds mnistcnn (Release, Ninja) into build/; the program lands at
# build/mnistcnn.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
