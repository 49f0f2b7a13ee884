#!/usr/bin/python3
"""The PyTorch conversions through `calma bench`, on files made here with
Debian's python3-torch: a small CNN, a TransformerEncoder and torchvision's
MobileNetV3 exported to ONNX (symbolic batch) and traced to TorchScript.
TORCH_EAGER, TORCHSCRIPT and TORCHSCRIPT_FROZEN must each validate against
the oracle at several batch sizes and thread counts; TorchScript files that
are wrong in each way a user can get them wrong must end that trial with a
clear status and a one-line message while the rest of the run goes on.

usage: test_torchscript.py CALMA_BINARY WORK_DIR   (CTest label torch)
Fails, rather than skips, when python3-torch is missing."""
import json
import os
import shutil
import subprocess
import sys

try:
    import torch
    import torchvision  # noqa: F401 (MobileNetV3 below)
except ImportError as ex:
    print(f"test_torchscript: Debian's python3-torch and python3-torchvision are needed ({ex}); "
          "scripts/setup.sh installs them (run with /usr/bin/python3)")
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import torch_export  # noqa: E402

CALMA, WORK = sys.argv[1], os.path.abspath(sys.argv[2])
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def bench(label, model, *flags):
    """Runs calma bench into WORK/runs/label; (exit code, stderr, report or None)."""
    run = os.path.join(WORK, "runs", label)
    shutil.rmtree(run, ignore_errors=True)
    cmd = [CALMA, "bench", model, "--samples", "3", "--repeats", "1", "--quiet", "--run-dir", run,
           *flags]
    p = subprocess.run(cmd, capture_output=True, text=True)
    path = os.path.join(run, "report.json")
    report = json.load(open(path)) if os.path.exists(path) else None
    return p.returncode, p.stderr, report


def trials(report, conversion=None):
    return [t for t in (report or {}).get("trials", [])
            if conversion is None or t["conversion"] == conversion]


def passed(t):
    outs = t.get("validation", {}).get("outputs", [])
    return t["status"] == "ok" and outs and all(o["pass"] for o in outs)


def one_line(msg):
    return "\n" not in msg and "frame #" not in msg and "Traceback" not in msg


class TwoInputs(torch.nn.Module):
    def forward(self, x, y):
        return x + y


class Embed(torch.nn.Module):
    """Takes token ids (int64): fed calma's float input it fails inside libtorch."""

    def __init__(self):
        super().__init__()
        self.e = torch.nn.Embedding(10, 4)

    def forward(self, ids):
        return self.e(ids)


def make_files():
    torch.manual_seed(0)
    tiny = torch_export.Tiny()
    torch_export.randomise_statistics(tiny)
    x = torch.randn(1, 3, 16, 16)
    files = {"good": torch_export.export(tiny, x, os.path.join(WORK, "good"))}
    enc = torch_export.encoder()
    files["encoder"] = torch_export.export(enc, torch.randn(1, 10, 32), os.path.join(WORK, "encoder"))
    mnv3 = torchvision.models.mobilenet_v3_small(weights=None)
    torch_export.randomise_statistics(mnv3)
    files["mobilenet"] = torch_export.export(mnv3, torch.randn(1, 3, 224, 224),
                                             os.path.join(WORK, "mobilenet"))
    bad = os.path.join(WORK, "bad")
    os.makedirs(bad, exist_ok=True)

    def traced(name, module, *example):
        path = os.path.join(bad, name + ".pt")
        torch.jit.trace(module.eval(), example).save(path)
        return path

    class Double(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = tiny

        def forward(self, x):
            return self.t(x).double()

    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = tiny

        def forward(self, x):
            y = self.t(x)
            return y, y

    files["two_inputs"] = traced("two_inputs", TwoInputs(), x, x)
    files["float64_output"] = traced("float64_output", Double(), x)
    files["five_classes"] = traced("five_classes", torch_export.Tiny(classes=5), x)
    files["two_outputs"] = traced("two_outputs", Pair(), x)
    files["token_ids"] = traced("token_ids", Embed(), torch.zeros(1, 3, 16, 16, dtype=torch.long))
    text = os.path.join(bad, "text.pt")
    open(text, "w").write("this is not TorchScript\n")
    files["text"] = text
    state = os.path.join(bad, "state_dict.pt")
    torch.save(tiny.state_dict(), state)  # a pickle in a zip: not TorchScript
    files["state_dict"] = state
    good_pt = open(files["good"][1], "rb").read()
    cut = os.path.join(bad, "truncated.pt")
    open(cut, "wb").write(good_pt[: len(good_pt) * 3 // 5])
    files["truncated"] = cut
    return files


def test_good(files):
    onnx, pt = files["good"]
    # one thread is covered by the models below
    rc, err, rep = bench("good", onnx, "--conversions", "TORCHSCRIPT,TORCHSCRIPT_FROZEN,EAGER",
                         "--batch", "1,3", "--threads", "2")
    check(rc == 0, f"small CNN: calma bench exits 0 (got {rc}: {err.strip()[-300:]})")
    check(rep and rep["model"].get("torchscript") == os.path.realpath(pt),
          "MODEL.pt beside MODEL.onnx is found and recorded in the report's model")
    ts = trials(rep)
    check(len(ts) == 6, f"6 trials (got {len(ts)})")
    for t in ts:
        check(passed(t), f"{t['id']}: ok and every output validates ({t['status']}: "
                         f"{t['message']})")
        ph = t.get("phases", {})
        check(all(ph.get(k, -1) >= 0 for k in ("load_s", "convert_s", "first_s")),
              f"{t['id']}: load, convert and first-run times reported")
    frozen = [t for t in ts if t["conversion"] == "TORCHSCRIPT_FROZEN"]
    check(frozen and all(t["phases"]["convert_s"] > 0 for t in frozen),
          "TORCHSCRIPT_FROZEN spends convert time freezing and optimising")


def test_models(files):
    for key, batch, convs in (("encoder", "2", "TORCH_EAGER,TORCHSCRIPT,TORCHSCRIPT_FROZEN"),
                              ("mobilenet", "1", "TORCH_EAGER,TORCHSCRIPT_FROZEN")):
        onnx, _ = files[key]
        rc, err, rep = bench(key, onnx, "--conversions", convs, "--batch", batch)
        check(rc == 0, f"{key}: calma bench exits 0 (got {rc}: {err.strip()[-300:]})")
        for t in trials(rep):
            check(passed(t), f"{key} {t['id']}: ok and validates ({t['status']}: {t['message']})")


def bad_case(files, key, status, *words, then="REFERENCE"):
    """TORCHSCRIPT on a bad file, then another trial (the oracle: cheap to
    start) that must still run."""
    onnx, _ = files["good"]
    rc, err, rep = bench("bad-" + key, onnx, "--torchscript", files[key],
                         "--conversions", "TORCHSCRIPT," + then)
    script, eager = trials(rep, "TORCHSCRIPT"), trials(rep, then)
    check(rep is not None and len(script) == 1 and len(eager) == 1,
          f"{key}: the run finishes with both trials ({err.strip()[-300:]})")
    if not script or not eager:
        return
    t = script[0]
    msg = t["message"]
    check(t["status"] == status, f"{key}: TORCHSCRIPT is {status} (got {t['status']}: {msg})")
    check(all(w in msg for w in words), f"{key}: the message names {words}: {msg}")
    check(one_line(msg), f"{key}: one line, no libtorch internals")
    check(passed(eager[0]), f"{key}: the run goes on ({then} ok after it)")
    check(rc == (1 if status == "error" else 0), f"{key}: exit {rc}")


def test_bad(files):
    bad_case(files, "text", "error", "is not a TorchScript file", "text.pt", then="TORCH_EAGER")
    bad_case(files, "state_dict", "error", "is not a TorchScript file")
    bad_case(files, "truncated", "error", "is not a TorchScript file", "truncated.pt")
    bad_case(files, "two_inputs", "error", "forward takes 2 inputs", "the ONNX model has 1 input")
    bad_case(files, "float64_output", "error", "Double[1,4]", "Float[1,4]")
    bad_case(files, "five_classes", "error", "Float[1,5]", "Float[1,4]")
    bad_case(files, "two_outputs", "error", "2 tensors", "1 output")
    bad_case(files, "token_ids", "error", "token_ids.pt")
    onnx, _ = files["good"]
    rc, err, _ = bench("missing", onnx, "--torchscript", "/nonexistent/model.pt",
                       "--conversions", "TORCHSCRIPT")
    check(rc == 2 and "--torchscript /nonexistent/model.pt: no such file" in err,
          f"a missing --torchscript stops the plan with exit 2: {rc} {err.strip()}")
    rc, err, _ = bench("directory", onnx, "--torchscript", WORK, "--conversions", "TORCHSCRIPT")
    check(rc == 2 and "not a regular file" in err, f"a folder as --torchscript: {rc} {err.strip()}")
    lonely = os.path.join(WORK, "lonely")
    os.makedirs(lonely, exist_ok=True)
    shutil.copy(onnx, os.path.join(lonely, "net.onnx"))
    rc, err, rep = bench("no-pt", os.path.join(lonely, "net.onnx"),
                         "--conversions", "TORCHSCRIPT_FROZEN,TORCH_EAGER")
    t = trials(rep, "TORCHSCRIPT_FROZEN")
    check(rc == 0 and t and t[0]["status"] == "unavailable" and
          "torch.jit.trace" in t[0]["message"] and "--torchscript" in t[0]["message"],
          f"no TorchScript file: unavailable, saying how to make one ({t and t[0]['message']})")
    check(rep and rep["model"].get("torchscript") is None, "no file recorded when none is found")


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    files = make_files()
    test_good(files)
    test_models(files)
    test_bad(files)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
