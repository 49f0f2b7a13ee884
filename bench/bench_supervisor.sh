#!/usr/bin/env bash
# Figures of calma's supervisor (issue 3):
#   1. wall time of `calma bench` (tier 1, default model) from start to report
#      (aim: <= 10 s on a 2-core machine);
#   2. the supervisor's own peak RSS (aim: < 20 MB), as report.json records it;
#   3. the time from a worker's hang to its timeout status: a conversion that
#      hangs in load under --load-timeout 1s, and one that hangs in run (the
#      silence limit, also 1 s); the figure is the trial's wall time minus the
#      limit (start-up + detection + SIGTERM/SIGKILL + reap);
#   4. (issue 5) the worker's peak RSS at 100 and at 100,000 samples of a
#      conversion that does nothing (FAULT_OK on 'simple'; aim: ratio <= 1.05),
#      and the harness's cost per sample there (total time / samples; aim < 1 us).
# usage: bench/bench_supervisor.sh [BUILD_DIR]   (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
calma="$build/calma"
plugin="$build/tests/plugins/fault_plugin.so"
[ -x "$calma" ] || { echo "no $calma: build calma first" >&2; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/calma-bench-super.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"

json() { # json FILE EXPR: one value from a report, with python3
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

t0=$(date +%s.%N)
"$calma" bench --quiet --run-dir run1 >/dev/null
t1=$(date +%s.%N)
printf 'calma bench (tier 1, simple) wall time: %.2f s (aim <= 10 s)\n' "$(echo "$t1 - $t0" | bc)"
printf '  trials: %s\n' "$(json run1/report.json "', '.join(t['id']+' '+t['status'] for t in r['trials'])")"
printf 'supervisor peak RSS: %.1f MiB (aim < 20 MB)\n' \
  "$(json run1/report.json "r['supervisor']['peak_rss']/1048576")"

if [ -f "$plugin" ]; then
  "$calma" bench --quiet --run-dir run2 --plugin "$plugin" \
    --conversions FAULT_HANG_LOAD,FAULT_HANG_RUN --load-timeout 1s --timeout 30s >/dev/null || true
  for c in FAULT_HANG_LOAD FAULT_HANG_RUN; do
    printf '%s: status %s, trial wall %.3f s for a 1 s limit: %.0f ms from limit to status\n' "$c" \
      "$(json run2/report.json "[t for t in r['trials'] if t['conversion']=='$c'][0]['status']")" \
      "$(json run2/report.json "[t for t in r['trials'] if t['conversion']=='$c'][0]['wall_s']")" \
      "$(json run2/report.json "([t for t in r['trials'] if t['conversion']=='$c'][0]['wall_s']-1)*1000")"
  done
  for n in 100 100000; do
    "$calma" bench --quiet --run-dir "run-n$n" --plugin "$plugin" --conversions FAULT_OK \
      --samples "$n" >/dev/null || true
  done
  p1=$(json run-n100/report.json "r['trials'][0]['memory']['peak']")
  p2=$(json run-n100000/report.json "r['trials'][0]['memory']['peak']")
  printf 'worker peak RSS: %.1f MiB at 100 samples, %.1f MiB at 100000: ratio %.3f (aim <= 1.05)\n' \
    "$(echo "$p1 / 1048576" | bc -l)" "$(echo "$p2 / 1048576" | bc -l)" "$(echo "$p2 / $p1" | bc -l)"
  printf 'harness cost per sample (no-op conversion, 100000 samples): %.0f ns (median sample %.0f ns; aim < 1 us)\n' \
    "$(json run-n100000/report.json "r['trials'][0]['stats']['total_s']/r['trials'][0]['stats']['n']*1e9")" \
    "$(json run-n100000/report.json "r['trials'][0]['stats']['median']*1e9")"
else
  echo "no $plugin: build calma_fault_plugin for the hang and memory figures" >&2
fi
