#!/usr/bin/python3
"""Prints the README's figures for the PyTorch conversions: for resnet18
and mobilenet_v2 at batch 1 on 1 and 2 threads, each PyTorch conversion's
median relative to ORT_CPU measured in the same calma bench run, and its
load, convert and first-run times.

Two sources per model, each one `calma bench` run:
  zoo   calma's own ONNX model (calma zoo NAME): ORT_CPU and TORCH_EAGER.
        It has no TorchScript file, so no TorchScript rows.
  tv    torchvision's model (seeded random weights, BatchNorm statistics
        randomised) exported at bench time by scripts/torch_export.py to
        model.onnx and a traced model.pt: ORT_CPU, TORCH_EAGER, TORCHSCRIPT,
        TORCHSCRIPT_FROZEN, all on the same network and weights.
Last, the same torchvision model in Python's own PyTorch eager
(torch.inference_mode, 30 runs after 10 warm-up runs, median; OpenMP
without spinning and OpenBLAS on the trial's thread count, as in calma's
workers) as a check that TORCH_EAGER runs at PyTorch eager's speed.

usage: /usr/bin/python3 bench/torch_figures.py [BUILD_DIR] [WORK_DIR] [--max-time 5s]
Timing on a shared machine is noisy: the load average of the trials is
printed with the figures; re-run on a quiet machine."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODELS = ("resnet18", "mobilenet_v2")
THREADS = (1, 2)


def bench(calma, model, convs, run_dir, max_time, extra=()):
    cmd = [calma, "bench", model, "--conversions", ",".join(convs), "--batch", "1",
           "--threads", ",".join(map(str, THREADS)), "--max-time", max_time, "--quiet",
           "--run-dir", run_dir, *extra]
    subprocess.run(["rm", "-rf", run_dir], check=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    path = os.path.join(run_dir, "report.json")
    if not os.path.exists(path):
        sys.exit(f"torch_figures: {' '.join(cmd)} wrote no report: {p.stderr.strip()[-500:]}")
    return json.load(open(path))["trials"]


EAGER_SNIPPET = """
import statistics, sys, time, torch, torchvision
name, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
m = getattr(torchvision.models, name)(weights=None).eval()
x = torch.randn(1, 3, 224, 224)
times = []
with torch.inference_mode():
    for i in range(40):
        t0 = time.perf_counter()
        m(x)
        if i >= 10:
            times.append(time.perf_counter() - t0)
print(statistics.median(times))
"""


def python_eager(name, threads):
    """Median seconds of torchvision's model in PyTorch eager, batch 1, in a
    process set up as calma's workers are: OpenMP waits without spinning,
    OpenBLAS on the same thread count."""
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
               OPENBLAS_NUM_THREADS=str(threads))
    p = subprocess.run(["/usr/bin/python3", "-c", EAGER_SNIPPET, name, str(threads)], env=env,
                       capture_output=True, text=True, check=True)
    return float(p.stdout.split()[-1])


def ms(s):
    return f"{s * 1e3:.3g} ms" if isinstance(s, (int, float)) else "-"


def rows(model, source, trials):
    out = []
    for th in THREADS:
        by = {t["conversion"]: t for t in trials if t["threads"] == th}
        ort = by.get("ORT_CPU", {}).get("stats", {}).get("median")
        for conv, t in by.items():
            med = t.get("stats", {}).get("median")
            ratio = f"{med / ort:.2f}" if med and ort else "-"
            ph = t.get("phases", {})
            status = t["status"] if t["status"] != "ok" else ""
            out.append((model, source, th, conv, ms(med), ratio, ms(ph.get("load_s")),
                        ms(ph.get("convert_s")), ms(ph.get("first_s")), status))
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    max_time = "5s"
    if "--max-time" in sys.argv:
        max_time = sys.argv[sys.argv.index("--max-time") + 1]
        args = [a for a in args if a != max_time]
    build = os.path.abspath(args[0] if args else os.path.join(ROOT, "build"))
    work = os.path.abspath(args[1] if len(args) > 1 else "/tmp/calma-torch-figures")
    calma = os.path.join(build, "calma")
    table, loads = [], []
    for name in MODELS:
        zoo = bench(calma, name, ["ORT_CPU", "TORCH_EAGER"], f"{work}/zoo-{name}", max_time)
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "torch_export.py"),
                        name, f"{work}/tv-{name}-files"], check=True, capture_output=True)
        tv = bench(calma, f"{work}/tv-{name}-files/model.onnx",
                   ["ORT_CPU", "TORCH_EAGER", "TORCHSCRIPT", "TORCHSCRIPT_FROZEN"],
                   f"{work}/tv-{name}", max_time)
        for trials in (zoo, tv):
            loads += [t["load_avg"] for t in trials if "load_avg" in t]
        table += rows(name, "zoo", zoo) + rows(name, "tv", tv)
        for th in THREADS:
            eager = [t for t in tv if t["conversion"] == "TORCH_EAGER" and t["threads"] == th]
            med = eager[0].get("stats", {}).get("median") if eager else None
            py = python_eager(name, th)
            ratio = f"{med / py:.2f}" if med else "-"
            table.append((name, "tv", th, "python eager", ms(py), f"TORCH_EAGER/python {ratio}",
                          "-", "-", "-", ""))
    head = ("model", "source", "thr", "conversion", "median", "/ ORT_CPU", "load", "convert",
            "first run", "status")
    widths = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]
    for r in [head] + table:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    if loads:
        print(f"load average during the trials: {min(loads):.2f}-{max(loads):.2f} "
              f"on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
