#!/usr/bin/env bash
# Prints issue 5's measurement figures (printed, never asserted):
#  1. worker peak RSS for the `simple` model at 100 and at 100,000 samples
#     (ORT_CPU), and their ratio (aim: <= 1.05);
#  2. calma's per-sample overhead on NOOP, a conversion that does nothing
#     (bench/noop_plugin.c), fixed count and adaptive (aim: < 1 us), beside
#     the cost of reading the clock (bench_measure_clock);
#  3. resnet18 on ORT_CPU, batch 1: time to reach 1% precision, and the
#     spread of the median over RUNS separate `calma bench` runs (aim: < 2%).
# usage: bench/bench_measure.sh [BUILD_DIR] [FIGURES]
#   BUILD_DIR  default build; needs calma, bench/noop_plugin.so and
#              bench/bench_measure_clock built there
#              (make -C BUILD_DIR calma calma_noop_plugin bench_measure_clock)
#   FIGURES    comma-separated 1,2,3 (default all). About 40 s, 2 s and
#              RUNS x (MAX_TIME + 5 s) respectively.
# Environment: RUNS (default 5), MAX_TIME (default 20s), THREADS (default 1;
# e.g. 1,2, which doubles figure 3's time), KEEP=1 keeps the run folders.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-build}"
FIGURES="${2:-1,2,3}"
RUNS="${RUNS:-5}"
MAX_TIME="${MAX_TIME:-20s}"
THREADS="${THREADS:-1}"
CALMA="$B/calma"
if [ ! -x "$CALMA" ]; then
  echo "bench_measure: $CALMA is not built (make -C $B calma)" >&2
  exit 2
fi
if ! command -v python3 >/dev/null; then
  echo "bench_measure: needs python3 to read report.json" >&2
  exit 2
fi

tmp="$(mktemp -d /tmp/calma-measure.XXXXXX)"
if [ "${KEEP:-0}" = 1 ]; then
  echo "(run folders kept in $tmp)"
else
  trap 'rm -rf "$tmp"' EXIT
fi

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
machine() {
  echo "   machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load average $(loadavg)"
}
# Runs calma bench with the given arguments, echoing the exact command. A
# trial status other than ok (NOOP is always a mismatch) is not a failure
# here; a missing report is. These figures are of one worker process, so
# each trial runs in one (--repeats 1).
bench() {
  local dir="$1"
  shift
  echo "   \$ $CALMA bench $* --repeats 1 --run-dir $dir --quiet"
  "$CALMA" bench "$@" --repeats 1 --run-dir "$dir" --quiet >"$dir.log" 2>&1 || true
  if [ ! -s "$dir/report.json" ]; then
    echo "   calma wrote no report; its output:" >&2
    sed 's/^/     /' "$dir.log" >&2
    exit 1
  fi
}
want() { [[ ",$FIGURES," == *",$1,"* ]]; }

if want 1; then
  echo "== 1. worker peak RSS, simple on ORT_CPU, 100 vs 100,000 samples =="
  machine
  for n in 100 100000; do
    bench "$tmp/rss$n" simple --conversions ORT_CPU --samples "$n"
  done
  # The same counts on NOOP (no engine) tell calma's share of any growth.
  plugin="$B/bench/noop_plugin.so"
  if [ -f "$plugin" ]; then
    for n in 100 100000; do
      bench "$tmp/rss_noop$n" simple --plugin "$plugin" --conversions NOOP --samples "$n"
    done
  fi
  echo "   load average after: $(loadavg)"
  python3 - "$tmp/rss100/report.json" "$tmp/rss100000/report.json" <<'EOF'
import json, sys
peaks = []
for path in sys.argv[1:]:
    t = json.load(open(path))["trials"][0]
    m, s = t["memory"], t.get("stats", {})
    peaks.append(m["peak"])
    print("   n=%-7d status %-8s peak RSS %8.2f MiB (%d B); after convert %.2f MiB; "
          "median %.1f us; trial load avg %s"
          % (s.get("n", 0), t["status"], m["peak"] / 2**20, m["peak"],
             m["rss_after_convert"] / 2**20, s.get("median", 0) * 1e6, t.get("load_avg")))
ratio = peaks[1] / peaks[0]
print("   peak RSS ratio 100,000 / 100 samples: %.3f (aim <= 1.05); difference %.0f KiB "
      "(%.1f B per extra sample)"
      % (ratio, (peaks[1] - peaks[0]) / 1024, (peaks[1] - peaks[0]) / (100000 - 100)))
EOF
  if [ -f "$tmp/rss_noop100000/report.json" ]; then
    python3 - "$tmp/rss_noop100/report.json" "$tmp/rss_noop100000/report.json" <<'EOF'
import json, sys
p = [json.load(open(x))["trials"][0]["memory"]["peak"] for x in sys.argv[1:]]
print("   calma alone (NOOP, no engine): peak RSS %.2f -> %.2f MiB, ratio %.3f, %.1f B per extra "
      "sample" % (p[0] / 2**20, p[1] / 2**20, p[1] / p[0], (p[1] - p[0]) / (100000 - 100)))
EOF
  fi
  echo
fi

if want 2; then
  echo "== 2. per-sample overhead of the harness: NOOP (run() returns at once) =="
  machine
  plugin="$B/bench/noop_plugin.so"
  if [ ! -f "$plugin" ]; then
    echo "   $plugin is not built (make -C $B calma_noop_plugin)" >&2
    exit 2
  fi
  bench "$tmp/noop_fixed" simple --plugin "$plugin" --conversions NOOP --samples 100000
  bench "$tmp/noop_adaptive" simple --plugin "$plugin" --conversions NOOP \
    --precision 1% --max-time 10s --min-time 0.5s
  echo "   load average after: $(loadavg)"
  python3 - "$tmp/noop_fixed/report.json" "$tmp/noop_adaptive/report.json" <<'EOF'
import json, sys
for label, path in zip(("fixed", "adaptive"), sys.argv[1:]):
    t = json.load(open(path))["trials"][0]
    s = t["stats"]
    print("   %-8s n=%-7d stop %-13s median %6.1f ns  [min %.1f, p99 %.1f ns]  "
          "wall per sample (loop, clock, stopping rule) %6.1f ns  peak RSS %.1f MiB  "
          "(status %s: NOOP's outputs are never right)"
          % (label, s["n"], s["stop"], s["median"] * 1e9, s["min"] * 1e9, s["p99"] * 1e9,
             s["total_s"] / s["n"] * 1e9, t["memory"]["peak"] / 2**20, t["status"]))
print("   aim: median < 1000 ns")
EOF
  clock="$B/bench/bench_measure_clock"
  if [ -x "$clock" ]; then
    echo "   for reference, the clock alone:"
    echo "   \$ $clock"
    "$clock" | sed 's/^/   /'
  else
    echo "   ($clock is not built: make -C $B bench_measure_clock)"
  fi
  echo
fi

if want 3; then
  echo "== 3. resnet18 on ORT_CPU, batch 1, threads $THREADS: time to 1% precision, spread over $RUNS runs =="
  machine
  for k in $(seq 1 "$RUNS"); do
    start=$(date +%s.%N)
    bench "$tmp/r18_$k" resnet18 --conversions ORT_CPU --batch 1 --threads "$THREADS" \
      --precision 1% --max-time "$MAX_TIME"
    end=$(date +%s.%N)
    echo "$start $end" >"$tmp/r18_$k.wall"
    echo "     load average: $(loadavg)"
  done
  python3 - "$tmp" "$RUNS" <<'EOF'
import json, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
by_threads = {}
print("   run thr  median ms  CI width  n     stop               measure s  to-result s  "
      "command s  load  validation")
for k in range(1, runs + 1):
    r = json.load(open("%s/r18_%d/report.json" % (tmp, k)))
    a, b = map(float, open("%s/r18_%d.wall" % (tmp, k)).read().split())
    for t in r["trials"]:
        s, p = t.get("stats"), t["phases"]
        if not s:
            print("   %d   %-3d %s: %s" % (k, t["threads"], t["status"], t["message"]))
            continue
        # From the worker's start of parsing to the last sample.
        before = sum(p.get(x, 0) for x in ("parse_s", "load_s", "convert_s", "first_s", "warmup_s"))
        v = t.get("validation", {}).get("verdict", "?")
        print("   %d   %-3d %9.3f  %6.2f%%  %-5d %-18s %9.2f  %11.2f  %9.1f  %4.1f  %s"
              % (k, t["threads"], s["median"] * 1e3, s["ci_rel"] * 100, s["n"], s["stop"],
                 s["total_s"], before + s["total_s"], b - a, t.get("load_avg", 0), v))
        by_threads.setdefault(t["threads"], []).append(s)
for thr, ss in sorted(by_threads.items()):
    med = sorted(x["median"] for x in ss)
    mid = med[len(med) // 2]
    reached = [x for x in ss if x["stop"] == "precision reached"]
    print("   threads %d: medians %s ms" % (thr, ", ".join("%.3f" % (x["median"] * 1e3) for x in ss)))
    print("     min %.3f ms, max %.3f ms, spread (max-min)/median %.2f%% (aim < 2%%)"
          % (med[0] * 1e3, med[-1] * 1e3, (med[-1] - med[0]) / mid * 100))
    if 1 < len(reached) < len(ss):
        # A run that ran out of time had a noisy machine under it (on a shared
        # 2-CPU box, another process on our core doubles the median); shown
        # apart, never instead of the figure above.
        rm = sorted(x["median"] for x in reached)
        print("     of the %d runs that reached 1%%: spread %.2f%%"
              % (len(rm), (rm[-1] - rm[0]) / rm[len(rm) // 2] * 100))
    if reached:
        tt = sorted(x["total_s"] for x in reached)
        print("     1%% precision reached in %d of %d runs; measuring time %.1f s (median of those), "
              "%.1f to %.1f s" % (len(reached), len(ss), tt[len(tt) // 2], tt[0], tt[-1]))
    else:
        print("     1%% precision reached in 0 of %d runs (best CI width %.2f%%)"
              % (len(ss), min(x["ci_rel"] for x in ss) * 100))
print("   CI width = (ci_hi - ci_lo) / median, the figure --precision bounds.")
print("   command s includes the oracle (REFERENCE, once per run) and process start.")
EOF
  echo
fi
