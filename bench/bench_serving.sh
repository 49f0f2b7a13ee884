#!/usr/bin/env bash
# Prints the serving figures (issue 16), for resnet18 and mobilenet_v2 on
# ORT_CPU and XNNPACK, all at --threads 2 (the machine's two cores):
#  1. offline samples/s at 1 stream (2 intra-op threads) and at 2 streams
#     (1 thread each), with their 95% intervals (batch means);
#  2. the highest Poisson rate whose p99 latency meets a bound of twice the
#     single-stream median call time (--scenario server --rate auto, one
#     stream), with the requests its step served.
# usage: bench/bench_serving.sh [BUILD_DIR]   (default build)
# OFFLINE_TIME (default 10s) is each offline trial's --max-time; STEP_TIME
# (default 35s) each rate step's budget: at the answer (about a tenth of the
# capacity) 35 s holds the 368 requests the p99's interval needs for a
# 10 ms model. MODELS and CONVERSIONS override the sets; BOUND_FACTOR (default
# 2) the bound as a multiple of the median. p99/med is the single-stream
# calls' own p99 over their median: at or above the factor no rate can meet
# the bound (a busy machine stretches the tail of every call).
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-build}"
CALMA="$B/calma"
[ -x "$CALMA" ] || { echo "bench_serving: $CALMA is not built" >&2; exit 2; }
MODELS="${MODELS:-resnet18 mobilenet_v2}"
CONVERSIONS="${CONVERSIONS:-ORT_CPU XNNPACK}"
OFFLINE_TIME="${OFFLINE_TIME:-10s}"
STEP_TIME="${STEP_TIME:-35s}"
BOUND_FACTOR="${BOUND_FACTOR:-2}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PY=/usr/bin/python3

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-13s %-8s %22s %22s %6s %9s %7s %9s %s\n' model conversion "offline s1 samples/s" \
  "offline s2 samples/s" s2/s1 "median" p99/med "bound" "best Poisson rate (steps, requests there)"
for m in $MODELS; do
  for c in $CONVERSIONS; do
    off="$tmp/$m-$c-offline"
    "$CALMA" bench "$m" --conversions "$c" --threads 2 --scenario offline --streams 1,2 \
      --repeats 1 --max-time "$OFFLINE_TIME" --timeout 30m --quiet --run-dir "$off" \
      >/dev/null 2>&1 || true
    # the single-stream median call time: the 1-stream offline trial calls
    # back to back, as the single scenario does
    read -r s1 s2 med tail < <($PY - "$off/report.json" <<'EOF'
import json, sys
try:
    t = json.load(open(sys.argv[1]))["trials"]
except Exception:
    print("- - - -"); sys.exit()
def fig(x):
    s = x.get("scenario", {})
    if x["status"] != "ok" or "samples_per_s" not in s: return "%s" % x["status"]
    return "%.1f[%.1f,%.1f]" % (s["samples_per_s"], s.get("ci_lo", 0), s.get("ci_hi", 0))
st = t[0].get("stats", {})
med, p99 = st.get("median"), st.get("p99")
print(fig(t[0]), fig(t[1]) if len(t) > 1 else "-", med if med else "-",
      "%.2f" % (p99 / med) if med and p99 else "-")
EOF
)
    best="-"
    bound="-"
    if [ "$med" != "-" ]; then
      bound=$($PY -c "print('%.6f' % ($BOUND_FACTOR * $med))")
      srv="$tmp/$m-$c-server"
      "$CALMA" bench "$m" --conversions "$c" --threads 2 --scenario server --rate auto \
        --latency-bound "${bound}s" --repeats 1 --max-time "$STEP_TIME" --timeout 60m --quiet \
        --run-dir "$srv" >/dev/null 2>&1 || true
      best=$($PY - "$srv/report.json" <<'EOF'
import json, sys
try:
    t = json.load(open(sys.argv[1]))["trials"][0]
except Exception:
    print("-"); sys.exit()
s = t.get("scenario", {})
if t["status"] != "ok": print(t["status"]); sys.exit()
b = s.get("best_rate")
steps = len(s.get("steps", []))
print(("%.2f/s" % b if b else "none") + " (%d, %d)" % (steps, s.get("requests", 0)))
EOF
)
    fi
    ratio=$($PY -c "
import re
a = re.match(r'[0-9.]+', '$s1'); b = re.match(r'[0-9.]+', '$s2')
print('%.2f' % (float(b.group()) / float(a.group())) if a and b else '-')")
    medtxt=$($PY -c "print('%.2f ms' % (1e3 * float('$med')) if '$med' != '-' else '-')")
    boundtxt=$($PY -c "print('%.2f ms' % (1e3 * float('$bound')) if '$bound' != '-' else '-')")
    printf '%-13s %-8s %22s %22s %6s %9s %7s %9s %s\n' "$m" "$c" "$s1" "$s2" "$ratio" "$medtxt" \
      "$tail" "$boundtxt" "$best"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
