#!/usr/bin/env bash
# Prints the ONNX Runtime figures (issue 4):
#  1. resnet18, batch 1, threads 1 and 2: calma's ORT_CPU run() against a
#     hand-written ORT loop, interleaved in one process, ratio of medians;
#     session creation and first-inference times.
#  2. the ONNX test suite: of the cases the oracle passes, how many pass
#     through ORT_CPU, and ORT's own message for each that does not.
# usage: bench/ort_figures.sh [BUILD_DIR]   (default build; needs calma and
#        bench_ort_overhead built there with ONNX Runtime fetched)
# BLOCKS and RUNS (environment) set the interleaving: BLOCKS blocks of RUNS
# inferences per side (default 40 x 5).
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-build}"
for exe in "$B/calma" "$B/bench/bench_ort_overhead"; do
  if [ ! -x "$exe" ]; then
    echo "ort_figures: $exe is not built (scripts/fetch-ort.sh, then cmake --build $B)" >&2
    exit 2
  fi
done

echo "== 1. overhead of calma's ORT backend (resnet18, batch 1) =="
echo "   machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/bench/bench_ort_overhead" resnet18 --threads 1,2 --blocks "${BLOCKS:-40}" --runs "${RUNS:-5}"
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "== 2. ONNX test suite: the oracle's passes through ORT_CPU =="
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$B/calma" conformance >"$tmp/ref.txt" 2>&1 || true
"$B/calma" conformance --conversion ORT_CPU >"$tmp/ort.txt" 2>&1 || true
awk '$1 == "pass" { print $2 }' "$tmp/ref.txt" | sort >"$tmp/ref.pass"
awk '$1 == "pass" { print $2 }' "$tmp/ort.txt" | sort >"$tmp/ort.pass"
comm -23 "$tmp/ref.pass" "$tmp/ort.pass" >"$tmp/missed"
n_ref=$(wc -l <"$tmp/ref.pass")
n_both=$(comm -12 "$tmp/ref.pass" "$tmp/ort.pass" | wc -l)
n_ort=$(wc -l <"$tmp/ort.pass")
sed -n '/totals$/,$p' "$tmp/ref.txt"
sed -n '/totals$/,$p' "$tmp/ort.txt"
echo
echo "oracle passes $n_ref cases; ORT_CPU passes $n_both of them ($n_ort in all)."
if [ -s "$tmp/missed" ]; then
  echo "Oracle passes that ORT_CPU does not, with ORT's verdict:"
  while read -r label; do
    grep -F " $label:" "$tmp/ort.txt" | head -n 1 |
      sed -e 's|ORT_CPU: creating the session for [^ ]*: ||' | cut -c1-200
  done <"$tmp/missed"
  echo "by verdict:"
  while read -r label; do
    grep -F " $label:" "$tmp/ort.txt" | head -n 1 | awk '{ print $1 }'
  done <"$tmp/missed" | sort | uniq -c
fi
