#!/usr/bin/env bash
# Installs everything calma needs on a fresh Debian 12 machine, fetches the
# engines that Debian does not package, and builds calma into build/.
# Idempotent: re-running installs only what is missing and rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PACKAGES=(
  build-essential cmake pkg-config
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata
  libcmocka-dev libcjson-dev libxml2-utils python3-jsonschema
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev
  libdnnl-dev
  libopenblas-dev
  libtorch-dev python3-torch python3-torchvision
  clang libclang-rt-14-dev procps
  nodejs npm
  slurmctld slurmd slurm-client munge
  python3-numpy python3-pytest python3-torch
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# npm may come from outside Debian (nodesource, nvm): then it is not missing.
if command -v npm >/dev/null 2>&1; then
  tmp=()
  for p in "${missing[@]}"; do [ "$p" = npm ] || [ "$p" = nodejs ] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Engines fetched from the npm registry (see scripts/fetch-ort.sh).
if [ -x scripts/fetch-ort.sh ]; then
  scripts/fetch-ort.sh || echo "setup: ONNX Runtime could not be fetched; its conversions will be reported unavailable"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: done; calma is build/calma"
