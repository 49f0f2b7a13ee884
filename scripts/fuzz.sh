#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer, ASan, UBSan) into
# build-fuzz/ and runs each for CALMA_FUZZ_SECONDS (default 60), as many at
# once as there are CPUs, from seeds generated first (the CTest label
# "fuzz"). Any crash, leak, undefined behaviour or hang fails it, with the
# reproducer in the log. Extra arguments go to ctest (-R fuzz_npy: one).
# The PyTorch module is left out of this build: no fuzz target reaches it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${CALMA_FUZZ_SECONDS:-60}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCALMA_FUZZ=ON \
    -DCALMA_FUZZ_SECONDS="$seconds" -DCALMA_WITH_TORCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)"
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j"$(nproc)" "$@"
