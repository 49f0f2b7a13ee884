"""calma from Python: which way of running your model is fastest here, and
whether each way still gives the right answer.

    import torch, calma
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    results = calma.benchmark(model, torch.randn(1, 3, 32, 32), tier=2)
    print(results)                 # calma's table
    print(results.best.median_ms)  # the fastest correct conversion, per call

Every trial runs in calma's own worker processes (a hang or crash becomes a
status, never an exception), is checked against calma's reference
interpreter, and is measured until its median is known to ``precision``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Union

import numpy as np

from ._binary import find_calma
from ._export import export_module
from ._inputs import as_arrays, at_batch
from ._run import Progress, run_bench, run_checked
from .errors import CalmaError
from .results import OutputCheck, Results, Trial, Validation

__all__ = ["benchmark", "conversions", "Results", "Trial", "Validation", "OutputCheck",
           "CalmaError", "find_calma"]
__version__ = "0.1.0"


def conversions(plugins: Sequence[str] = ()) -> List[dict]:
    """Every conversion calma knows, with its tier, and whether it can run
    here (and why not): ``calma list --json``."""
    import json

    args = [find_calma(), "list", "--json"]
    for p in plugins:
        args += ["--plugin", str(p)]
    return list(json.loads(run_checked(args, "calma list")))


def _resolve(names: Iterable[str], plugins: Sequence[str]) -> List[str]:
    """calma's canonical names for names (aliases and names from other tools
    go through calma's registry). An unknown name, or one calma does not
    offer, raises ValueError with calma's suggestion or explanation, before
    anything runs."""
    names = [str(n) for n in names]
    if not names:
        raise ValueError("conversions is empty; give names (calma.conversions() lists them) "
                         "or leave it None for the tier")
    if any("," in n for n in names):
        raise ValueError(f"a conversion name has a comma: {names}")
    args = [find_calma(), "list", "--resolve", ",".join(names)]
    for p in plugins:
        args += ["--plugin", str(p)]
    try:
        out = run_checked(args, "calma list")
    except CalmaError as e:
        raise ValueError(e.message) from None
    return [ln for ln in out.splitlines() if ln]


def _table(run_dirs: Sequence[str]) -> str:
    exe = find_calma()
    parts = []
    for d in run_dirs:
        try:
            parts.append(run_checked([exe, "report", d, "--format", "table"], "calma report"))
        except CalmaError:
            pass
    return "\n".join(p.rstrip("\n") for p in parts)


def benchmark(model: Union[str, os.PathLike, Any], example_input: Any = None, *,
              conversions: Optional[Sequence[str]] = None, tier: int = 1,
              batch_sizes: Sequence[int] = (1,), threads: Optional[Sequence[int]] = None,
              precision: float = 0.01, max_time: float = 5.0, output: Optional[str] = None,
              progress: bool = True, repeats: Optional[int] = None,
              plugins: Sequence[str] = (), run_dir: Optional[str] = None,
              extra_args: Sequence[str] = ()) -> Results:
    """Benchmarks ``model`` on every conversion of ``tier`` (or the given
    ``conversions``) at each batch size and thread count, and returns typed
    :class:`Results`.

    model: a ``torch.nn.Module`` (exported with ``torch.onnx.export``, batch
        axis dynamic, and ``torch.jit.trace`` saved beside it for the
        TorchScript conversions) or the path of an ``.onnx`` file.
    example_input: a tensor, a numpy array, a tuple of them, or a DataLoader
        (its first batch; ``(data, label)`` batches give their data). It is
        written as ``.npy`` and used as the trials' input and for validation,
        repeated along the batch dimension to each batch size. ``None`` (an
        ``.onnx`` path only): calma generates inputs from its seed.
    conversions: calma's names or those of other tools (``EAGER``,
        ``ONNX_CPU``, ``JIT_TRACE``, ...). An unknown name raises
        :class:`ValueError` with calma's suggestion; a name calma does not
        offer raises with calma's explanation; nothing is dropped.
    precision, max_time: sampling stops when the median's 95% interval is
        within ``precision`` (relative) or after ``max_time`` seconds a trial.
    output: also write calma's report.json (of the last batch size run) there.
    repeats: worker processes per trial (calma's default: 3).
    plugins: calma plugin shared objects (``--plugin``).
    run_dir: keep calma's run folders under this folder (default: a temporary
        folder, removed when done).
    extra_args: more ``calma bench`` flags, as a list.

    Trials that fail (``timeout``, ``crashed``, ...) are results with that
    status, never exceptions. A plan calma refuses raises :class:`CalmaError`
    with calma's message. Ctrl-C stops calma cleanly and raises
    ``KeyboardInterrupt`` whose ``results`` attribute holds what finished.
    """
    exe = find_calma()
    names = _resolve(conversions, plugins) if conversions is not None else None
    if conversions is None and tier not in (1, 2, 3):
        raise ValueError(f"tier must be 1, 2 or 3, not {tier!r}")
    batches = [int(b) for b in batch_sizes]
    if not batches or any(b < 1 for b in batches):
        raise ValueError(f"batch_sizes must be integers >= 1, not {list(batch_sizes)}")
    work = Path(tempfile.mkdtemp(prefix="calma-py-"))
    runs_root = Path(run_dir) if run_dir else work / "runs"
    runs_root.mkdir(parents=True, exist_ok=True)
    reports: List[dict] = []
    dirs: List[str] = []
    try:
        arrays = as_arrays(example_input) if example_input is not None else None
        if isinstance(model, (str, os.PathLike)):
            onnx_path = Path(model)
            if not onnx_path.is_file():
                raise CalmaError(f"model {onnx_path}: no such file", exit_code=2)
        else:
            if arrays is None:
                raise ValueError("a torch.nn.Module needs an example_input to be exported")
            onnx_path = export_module(model, arrays, work)
        base = [exe, "bench", str(onnx_path), "--precision", repr(float(precision)),
                "--max-time", f"{float(max_time)}s"]
        base += ["--conversions", ",".join(names)] if names is not None else ["--tier", str(tier)]
        if threads:
            base += ["--threads", ",".join(str(int(t)) for t in threads)]
        if repeats is not None:
            base += ["--repeats", str(int(repeats))]
        for p in plugins:
            base += ["--plugin", str(p)]
        base += [str(a) for a in extra_args]
        # One calma run per batch size when the inputs are real data: a file
        # holds one batch. Generated inputs take every batch size in one run.
        groups = [[b] for b in batches] if arrays is not None else [batches]
        for gi, group in enumerate(groups):
            args = base + ["--batch", ",".join(map(str, group))]
            if arrays is not None:
                idir = work / f"inputs-b{group[0]}"
                idir.mkdir()
                for k, a in enumerate(at_batch(arrays, group[0])):
                    np.save(idir / f"input_{k}.npy", a)
                args += ["--inputs-dir", str(idir)]
            if output and gi == len(groups) - 1:
                args += ["--output", str(output)]
            rdir = str(runs_root / f"run-b{'-'.join(map(str, group))}")
            if os.path.exists(rdir):
                shutil.rmtree(rdir)
            label = f"batch {group[0]}: " if len(groups) > 1 else ""
            try:
                reports.append(run_bench(args, rdir, Progress(progress, label=label)))
            except KeyboardInterrupt as ki:
                part = getattr(ki, "partial_report", None)
                if part:
                    reports.append(part)
                    dirs.append(rdir)
                exc = KeyboardInterrupt()
                exc.results = Results(reports, _table(dirs))  # type: ignore[attr-defined]
                raise exc from None
            dirs.append(rdir)
        return Results(reports, _table(dirs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
