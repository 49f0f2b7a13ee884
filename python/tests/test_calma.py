"""calma's Python package end to end, on the real calma binary (CALMA_BIN) and
Debian's python3-torch: inputs of every accepted kind, names checked by calma's
registry, typed results that agree with the report.json calma wrote, failures
as statuses, Ctrl-C as a clean stop."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import calma
from calma._inputs import as_arrays, at_batch

PLUGIN = Path(os.environ.get("CALMA_BUILD_DIR", "build")) / "tests" / "plugins" / "fault_plugin.so"
QUICK = dict(max_time=0.6, repeats=1, progress=False)


class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SmallEncoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        layer = torch.nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                                 dropout=0.0, batch_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc(x)


def image() -> torch.Tensor:
    return torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def test_inputs_of_every_kind() -> None:
    t = image()
    a = t.numpy()
    assert [x.shape for x in as_arrays(t)] == [(1, 3, 16, 16)]
    assert [x.shape for x in as_arrays(a)] == [(1, 3, 16, 16)]
    assert len(as_arrays((t, a))) == 2
    data = torch.utils.data.TensorDataset(torch.randn(6, 3, 16, 16), torch.arange(6))
    loader = torch.utils.data.DataLoader(data, batch_size=2)
    got = as_arrays(loader)  # (data, label) batches: the label is not an input
    assert len(got) == 1 and got[0].shape == (2, 3, 16, 16)
    plain = torch.utils.data.DataLoader(torch.randn(4, 5), batch_size=3)
    assert as_arrays(plain)[0].shape == (3, 5)
    tiled = at_batch([np.arange(2 * 3).reshape(2, 3)], 5)[0]
    assert tiled.shape == (5, 3) and (tiled[2] == tiled[0]).all()
    with pytest.raises(TypeError):
        as_arrays("not data")


def test_cnn_tier1_fields_match_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    r = calma.benchmark(SmallCNN(), image(), output=str(out), **QUICK)
    report = json.loads(out.read_text())
    assert [t.conversion for t in r] == ["REFERENCE", "ORT_CPU"]
    for t, raw in zip(r, report["trials"]):
        assert t.status == "ok", t.message
        assert t.ok and t.validation is not None and t.validation.passed
        assert t.median_ms == pytest.approx(raw["stats"]["median"] * 1e3)
        assert t.p99_ms == pytest.approx(raw["stats"]["p99"] * 1e3)
        assert t.ci_ms[0] <= t.median_ms <= t.ci_ms[1]
        assert t.throughput_per_s == pytest.approx(raw["throughput"]["per_s_median"])
        assert t.load_ms == pytest.approx(raw["phases"]["load_s"] * 1e3)
        assert t.peak_rss_mb == pytest.approx(raw["memory"]["peak"] / 2**20)
        assert t.validation.cosine is not None and t.validation.cosine > 0.9999
    assert r.best is not None and r.best.ok
    assert r.best.id == report["best_latency"]["id"]
    assert r["ORT_CPU"].key == ("ORT_CPU", 1, 1)
    assert r.baseline == "ORT_CPU"
    assert r.speedups()[("ORT_CPU", 1, 1)] == pytest.approx(1.0)
    assert "REFERENCE" in str(r) and "samples/s" in str(r)  # calma's table
    path = tmp_path / "results.json"
    r.to_json(str(path))
    assert json.loads(path.read_text())["trials"][1]["conversion"] == "ORT_CPU"


def test_transformer_encoder_and_tuple_input() -> None:
    x = torch.randn(1, 8, 16, generator=torch.Generator().manual_seed(2))
    r = calma.benchmark(SmallEncoder(), (x,), **QUICK)
    assert [t.status for t in r] == ["ok", "ok"], [t.message for t in r]


def test_numpy_and_loader_inputs_at_two_batch_sizes() -> None:
    data = torch.utils.data.TensorDataset(torch.randn(4, 3, 16, 16), torch.arange(4))
    loader = torch.utils.data.DataLoader(data, batch_size=1)
    r = calma.benchmark(SmallCNN(), loader, conversions=["ONNX_CPU"], batch_sizes=(1, 2), **QUICK)
    assert sorted(t.key for t in r) == [("ORT_CPU", 1, 1), ("ORT_CPU", 2, 1)]
    assert all(t.ok for t in r)
    with pytest.raises(KeyError, match="pick one"):
        r["ORT_CPU"]
    assert r["ORT_CPU", 2, 1].batch == 2
    r2 = calma.benchmark(SmallCNN(), image().numpy(), conversions=["REFERENCE"], **QUICK)
    assert r2["REFERENCE"].ok


def test_names_checked_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="did you mean ORT_CPU"):
        calma.benchmark(SmallCNN(), image(), conversions=["ORT_CPUU"])
    with pytest.raises(ValueError, match="not offered by calma: torch.compile"):
        calma.benchmark(SmallCNN(), image(), conversions=["COMPILE_INDUCTOR_DEFAULT"])
    with pytest.raises(ValueError):
        calma.benchmark(SmallCNN(), image(), conversions=[])


def test_pytorch_conversions() -> None:
    r = calma.benchmark(SmallCNN(), image(),
                        conversions=["EAGER", "JIT_TRACE", "TORCHSCRIPT_FROZEN", "ORT_CPU"], **QUICK)
    assert [t.conversion for t in r] == ["TORCH_EAGER", "TORCHSCRIPT", "TORCHSCRIPT_FROZEN", "ORT_CPU"]
    for t in r:
        assert t.status == "ok", (t.conversion, t.message)
    assert r.baseline == "TORCH_EAGER"
    assert r.speedups()[("TORCH_EAGER", 1, 1)] == pytest.approx(1.0)


def test_a_crash_is_a_result(tmp_path: Path) -> None:
    assert PLUGIN.is_file(), f"{PLUGIN} is not built"
    r = calma.benchmark(SmallCNN(), image(), conversions=["REFERENCE", "FAULT_SEGV", "ORT_CPU"],
                        plugins=[str(PLUGIN)], **QUICK)
    assert [t.status for t in r] == ["ok", "crashed", "ok"]
    assert r["FAULT_SEGV"].message  # the signal, or the sanitizer's exit code
    assert r["FAULT_SEGV"].median_ms is None


def test_refused_plan_is_calma_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(calma.CalmaError) as e:
        calma.benchmark(str(bad), None, **QUICK)
    assert e.value.exit_code == 2 and "bad.onnx" in e.value.message


def test_binary_lookup_names_what_it_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    import calma._binary as b

    monkeypatch.setenv("CALMA_BIN", "/nonexistent/calma")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(b, "__file__", "/nonexistent/a/b/c.py")
    with pytest.raises(calma.CalmaError, match="CALMA_BIN=/nonexistent/calma"):
        b.find_calma()


def test_python_m_calma_runs_the_cli() -> None:
    p = subprocess.run([sys.executable, "-m", "calma", "--version"], capture_output=True, text=True,
                       check=False)
    assert p.returncode == 0 and "calma" in p.stdout


def test_ctrl_c_stops_cleanly_with_partial_results(tmp_path: Path) -> None:
    assert PLUGIN.is_file(), f"{PLUGIN} is not built"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, torch, calma
        m = torch.nn.Sequential(torch.nn.Linear(4, 4))
        try:
            calma.benchmark(m, torch.randn(1, 4), conversions=["REFERENCE", "FAULT_HANG_RUN"],
                            plugins=[{str(PLUGIN)!r}], max_time=0.4, repeats=1, progress=True)
        except KeyboardInterrupt as e:
            print("STATUSES", [t.status for t in e.results])
            sys.exit(42)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(0.5)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        ps = subprocess.run(["ps", "-o", "args=", "-g", str(proc.pid)], capture_output=True,
                            text=True, check=False).stdout
        if "--conversion FAULT_HANG_RUN" in ps:  # its worker, not the plan
            break
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C does
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 42, (out, err)
    assert "STATUSES ['ok', 'interrupted']" in out, (out, err)
