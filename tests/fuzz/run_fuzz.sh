#!/usr/bin/env bash
# Fuzzes one libFuzzer target for a bounded time:
#   run_fuzz.sh TARGET SEEDS SECONDS WORK [REGRESS]
# from the seed folder (read-only), the committed reproducers REGRESS and
# what it finds itself (WORK/corpus). Any crash, leak, undefined behaviour,
# allocation over 2 GB or input slower than 25 s fails it, and each
# reproducer is printed in base64 in the log (also kept in WORK/artifacts):
#   base64 -d > crash.bin, then TARGET crash.bin replays it.
# The last lines always give executions per second and their total.
set -uo pipefail
target=$1 seeds=$2 seconds=$3 work=$4 regress=${5:-}
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
dirs=("$work/corpus")
[ -d "$seeds" ] && dirs+=("$seeds")
[ -n "$regress" ] && [ -d "$regress" ] && dirs+=("$regress")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
"$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" "${dirs[@]}" >"$work/log" 2>&1
rc=$?
name=$(basename "$target")
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
    "$work/log" | sed "s/^/$name /"
if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
    echo "== $name failed (exit $rc); the end of its log:"
    tail -n 80 "$work/log"
    for f in "$work/artifacts"/*; do
        [ -f "$f" ] || continue
        echo "== reproducer $(basename "$f") ($(stat -c %s "$f") bytes), base64:"
        base64 "$f"
    done
    exit 1
fi
echo "$name: no crash, leak or undefined behaviour in ${seconds}s"
