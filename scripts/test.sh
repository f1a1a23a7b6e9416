#!/usr/bin/env bash
# Installs what is missing, builds, and runs the test suite (everything but the tests
# labelled "slow"; run those with: scripts/test.sh --slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
jobs=$(nproc)
if [ "${1:-}" = "--slow" ]; then
  ctest --test-dir build -L slow --output-on-failure
else
  ctest --test-dir build -LE slow --output-on-failure -j "$jobs"
fi
