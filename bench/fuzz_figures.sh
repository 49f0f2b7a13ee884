#!/usr/bin/env bash
# The fuzzing figure: executions per second and in total for each fuzz
# target, one at a time (each on one core) for SECONDS (default 60), from
# the generated seeds. Needs the fuzz build (scripts/fuzz.sh makes it).
#   bench/fuzz_figures.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-60}
[ -x "$build/tests/fuzz/fuzz_onnx" ] || {
    echo "no fuzz build in $build: run scripts/fuzz.sh first" >&2
    exit 2
}
seeds=$build/fuzz/seeds
[ -d "$seeds/onnx" ] || tests/fuzz/make_corpus.sh "$build/calma" "$seeds" "$PWD" >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| target | what | executions per second | executions in ${seconds} s | corpus found |"
echo "| --- | --- | ---: | ---: | ---: |"
declare -A what=([onnx]="ONNX loader, model facts, shape inference" [npy]=".npy reader"
    [tensor_pb]="TensorProto .pb reader" [report]="report.json and journal loader, every renderer, compare"
    [options]="calma bench flags, durations, sizes, ORT options")
for t in onnx npy tensor_pb report options; do
    work=$build/fuzz/figures/$t
    out=$(tests/fuzz/run_fuzz.sh "$build/tests/fuzz/fuzz_$t" "$seeds/$t" "$seconds" "$work" \
        tests/fuzz/regress/$t) || {
        echo "$out" >&2
        exit 1
    }
    fig() { echo "$out" | awk -v k="stat::$1:" '$2 == k { print $3 }'; }
    echo "| fuzz_$t | ${what[$t]} | $(fig average_exec_per_sec) | $(fig number_of_executed_units) | $(fig new_units_added) |"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
