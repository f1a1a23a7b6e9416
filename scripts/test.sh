#!/usr/bin/env bash
# Installs what is missing, builds, and runs the test suite: everything but the tests
# labelled "slow". Options:
#   --slow      run only the slow tests (full training runs of the seed recipes)
#   --sanitize  build into build-asan with AddressSanitizer + UBSan and run the suite there
#               (not the browser test, label "e2e": it trains a model, too slow in Debug + ASan)
# Tests run one at a time: each already uses every core through OpenMP, and two at once
# make OpenMP's spinning threads fight (a 4x slowdown measured here).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
case "${1:-}" in
  --slow)
    bash scripts/build.sh
    ctest --test-dir build -L slow --output-on-failure
    ;;
  --sanitize)
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMNISTCNN_SANITIZE=ON -DMNISTCNN_BUILD_BENCH=OFF >/dev/null
    cmake --build build-asan
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir build-asan -LE 'slow|e2e' --output-on-failure
    ;;
  "")
    bash scripts/build.sh
    [ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
      echo "test.sh: no Chromium at ${CHROMIUM:-/usr/bin/chromium}: the browser test (e2e_browser) will be skipped"
    ctest --test-dir build -LE slow --output-on-failure
    ;;
  *)
    echo "usage: scripts/test.sh [--slow|--sanitize]" >&2
    exit 2
    ;;
esac
