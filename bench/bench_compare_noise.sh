#!/usr/bin/env bash
# Figure of calma compare's noise-proofing (issue 17): PAIRS pairs of
# back-to-back runs of the same model and conversions while a CPU hog keeps
# the other core busy; each pair is compared with --fail-if-slower 5%. The
# aim: `same` for every trial in at least 19 of 20 pairs, and no FAIL.
# Prints, per pair, each trial's ratio, interval and verdict, then the count.
#
# usage: bench/bench_compare_noise.sh [BUILD_DIR] [PAIRS] [MODEL] [CONVERSIONS] [REPEATS]
#        (defaults: build 20 simple ORT_CPU 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
pairs="${2:-20}"
model="${3:-simple}"
convs="${4:-ORT_CPU}"
repeats="${5:-3}"
calma="$build/calma"
[ -x "$calma" ] || { echo "no $calma: build calma first" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/calma-cmp-noise.XXXXXX")"
hog=""
cleanup() {
  [ -n "$hog" ] && kill "$hog" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The hog: a busy loop on the last core (taskset from util-linux when it is
# there); calma's trials run with one thread and go where the kernel puts them.
last=$(( $(nproc) - 1 ))
if command -v taskset >/dev/null 2>&1; then
  taskset -c "$last" sh -c 'while :; do :; done' &
else
  sh -c 'while :; do :; done' &
fi
hog=$!
echo "== calma compare: two runs of the same $model ($convs, --repeats $repeats), $pairs pairs, a CPU hog on core $last =="
echo "   machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "   \$ $calma bench $model --conversions $convs --repeats $repeats --quiet --output A.json   (twice)"
echo "   \$ $calma compare A.json B.json --fail-if-slower 5% --format json"
same=0
failed=0
for k in $(seq 1 "$pairs"); do
  for side in a b; do
    "$calma" bench "$model" --conversions "$convs" --repeats "$repeats" --quiet \
      --run-dir "$work/$k$side" --output "$work/$k$side.json" >/dev/null 2>&1 || true
  done
  rc=0
  "$calma" compare "$work/${k}a.json" "$work/${k}b.json" --fail-if-slower 5% --format json \
    >"$work/$k.cmp" || rc=$?
  line=$(python3 - "$work/$k.cmp" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
parts, all_same = [], True
for t in c["trials"]:
    all_same &= t["speed"] == "same"
    parts.append("%s %.3f [%.3f, %.3f] p=%.2g %s" % (t["id"], t.get("ratio", 0), t.get("ratio_lo", 0),
                 t.get("ratio_hi", 0), t.get("p", 1), t["speed"]))
print(("SAME " if all_same else "DIFF ") + "; ".join(parts))
EOF
)
  [[ "$line" == SAME* ]] && same=$((same + 1))
  [ "$rc" -ne 0 ] && failed=$((failed + 1))
  printf '   pair %2d: %s%s  (load %s)\n' "$k" "${line#* }" "$([ "$rc" -ne 0 ] && echo ' FAIL')" \
    "$(cut -d' ' -f1 /proc/loadavg)"
done
echo "   same in $same of $pairs pairs; the 5% gate failed in $failed (aim: same in >= $((pairs * 19 / 20)), gate failures 0)"
