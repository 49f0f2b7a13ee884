#!/usr/bin/env bash
# Prints the reduced-precision figures (issue 11): for resnet18 and
# mobilenet_v2 at batch 1 and 8 and 1 and 2 threads, the medians of
# FP16+ORT_CPU and INT8+ORT_CPU relative to ORT_CPU (fp32) measured in the
# same calma run, each with its accuracy against the oracle (cosine and top-1
# agreement over the validation batches) and status; BF16+ORT_CPU's status;
# and what the oracle and the INT8 calibration cost.
#
# Each (batch, threads) point is its own `calma bench` run of the three
# conversions, so their trials run back to back, each in calma's 3 worker
# processes interleaved (A B C A B C); the points are visited round-robin
# ROUNDS times and the ratio given is the median over the rounds (each
# round's ratio is listed too). The oracle's
# outputs and the INT8 calibration are made once, in a first run, and copied
# into every later run folder, where calma finds and reuses them.
#
# usage: bench/bench_xform.sh [BUILD_DIR] [MODEL...]
#        (default: build, resnet18 mobilenet_v2; needs ONNX Runtime fetched)
# Environment: ROUNDS (default 2), MAXTIME per trial (default 5s), CALIB
# calibration batches (32), VALID validation batches (8), OPTIONS for
# --options (e.g. xform.activations=int8).
set -euo pipefail
cd "$(dirname "$0")/.."
B="${1:-build}"
shift || true
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(resnet18 mobilenet_v2)
if [ ! -x "$B/calma" ]; then
  echo "bench_xform: $B/calma is not built" >&2
  exit 2
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
common=(--calibration "${CALIB:-32}" --validation-batches "${VALID:-8}" --quiet)
[ -z "${OPTIONS:-}" ] || common+=(--options "$OPTIONS")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for model in "${MODELS[@]}"; do
  m="$tmp/$model"
  mkdir -p "$m"
  "$B/calma" zoo "$model" -o "$m/model.onnx" >/dev/null
  echo "== $model: load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
  # the oracle (batch 1 and 8), the calibration and BF16's answer, once
  "$B/calma" bench "$m/model.onnx" --conversions INT8+ORT_CPU,FP16+ORT_CPU,BF16+ORT_CPU \
    --batch 1,8 --samples 1 --repeats 1 "${common[@]}" --run-dir "$m/prep" >"$m/prep.log" 2>&1 || true
  for round in $(seq 1 "${ROUNDS:-2}"); do
    for b in 1 8; do
      for t in 1 2; do
        d="$m/r$round-b$b-t$t"
        mkdir -p "$d"
        cp -r "$m/prep/oracle" "$m/prep/transforms" "$d/"
        "$B/calma" bench "$m/model.onnx" --conversions ORT_CPU,FP16+ORT_CPU,INT8+ORT_CPU \
          --batch "$b" --threads "$t" --max-time "${MAXTIME:-5s}" "${common[@]}" --run-dir "$d" \
          >"$d.log" 2>&1 || true
      done
    done
  done
  echo "   load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  /usr/bin/python3 - "$m" "$model" "${ROUNDS:-2}" <<'PY'
import json, statistics, sys
m, model, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def load(path):
    try:
        return json.load(open(path))
    except OSError:
        return {"trials": []}
def trial(rep, conv):
    return next((x for x in rep["trials"] if x["conversion"] == conv), None)
def med(x):
    return (x or {}).get("stats", {}).get("median")
def acc(x):
    outs = (x or {}).get("validation", {}).get("outputs", [])
    if not outs:
        return "-"
    o = outs[0]
    t = o.get("top1")
    return "cos %.5f, top-1 %s of %d rows" % (o["cosine"], "%.1f%%" % (100 * t) if t is not None else "-", o.get("rows", 0))
print(f"{model}: median relative to ORT_CPU (fp32) in the same run; lower is faster")
print("%-13s %5s %3s %11s  %6s  %-22s %s" % ("conversion", "batch", "thr", "ORT_CPU", "ratio", "per round", "status, accuracy"))
for b in (1, 8):
    for t in (1, 2):
        reps = [load(f"{m}/r{r}-b{b}-t{t}/report.json") for r in range(1, rounds + 1)]
        base = [med(trial(r, "ORT_CPU")) for r in reps]
        base = [x for x in base if x]
        for conv in ("FP16+ORT_CPU", "INT8+ORT_CPU"):
            ratios = [med(trial(r, conv)) / med(trial(r, "ORT_CPU")) for r in reps
                      if med(trial(r, conv)) and med(trial(r, "ORT_CPU"))]
            x = trial(reps[-1], conv)
            print("%-13s %5d %3d %8.2f ms  %6s  %-22s %s, %s" % (conv, b, t,
                  1e3 * statistics.median(base) if base else 0,
                  "%.2fx" % statistics.median(ratios) if ratios else "-",
                  " ".join("%.2f" % r for r in ratios), x["status"] if x else "-", acc(x)))
prep = load(f"{m}/prep/report.json")
bf = trial(prep, "BF16+ORT_CPU")
if bf:
    print("BF16+ORT_CPU: %s: %s" % (bf["status"], bf.get("message", "")[-120:]))
for b in (1, 8):
    try:
        s = json.load(open(f"{m}/prep/oracle/b{b}/status.json"))
        print("oracle, batch %d: %.1f s for %d validation batches" % (b, s.get("seconds", 0), s.get("batches", 1)))
    except OSError:
        pass
x = trial(prep, "INT8+ORT_CPU")
c = (x or {}).get("transform", {}).get("calibration")
if c:
    print("INT8 calibration: %.1f s for %d batches (%s), once per run" % (c["seconds"], c["batches"], c["method"]))
PY
done
