"""Running the calma binary: its progress shown, its refusals raised, its
report read back, and Ctrl-C turned into a clean stop."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

from .errors import CalmaError

_PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] (.*)$")


class Progress:
    """calma's per-trial lines: a bar on a terminal, plain lines otherwise,
    nothing when off."""

    def __init__(self, enabled: bool, stream: TextIO = sys.stderr, label: str = "") -> None:
        self.enabled = enabled
        self.stream = stream
        self.tty = enabled and hasattr(stream, "isatty") and stream.isatty()
        self.label = label
        self.drawn = False

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        m = _PROGRESS.match(text)
        if self.tty and m:
            done, total = int(m.group(1)), int(m.group(2))
            width = 24
            fill = width * done // max(total, 1)
            bar = "#" * fill + "." * (width - fill)
            msg = m.group(3)[:70]
            self.stream.write(f"\r\033[K{self.label}[{bar}] {done}/{total} {msg}")
            self.drawn = True
        else:
            self.end()
            self.stream.write(f"{self.label}{text}\n")
        self.stream.flush()

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def run_checked(args: Sequence[str], what: str) -> str:
    """Runs calma with args and returns its stdout; a refusal (exit 2) is a
    :class:`CalmaError` with calma's message."""
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       check=False)
    if p.returncode != 0:
        raise CalmaError(_message(p.stderr, what), exit_code=p.returncode)
    return p.stdout


def _message(stderr: str, what: str) -> str:
    """calma's own message: its last "calma ...:" lines, without the prefix."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    mine = [re.sub(r"^calma( [a-z]+)?: ", "", ln) for ln in lines if ln.startswith("calma")]
    return " ".join(mine) if mine else (lines[-1] if lines else f"{what} failed")


def run_bench(args: Sequence[str], run_dir: str, progress: Progress) -> Dict[str, Any]:
    """Runs ``calma bench ARGS --run-dir run_dir`` and returns its report.

    Trial failures are part of the report. Exit 2 (calma refused the plan) is
    a :class:`CalmaError`. On Ctrl-C calma stops its worker and writes a
    partial report, which comes back attached to the KeyboardInterrupt as
    ``partial_report``."""
    cmd = list(args) + ["--run-dir", run_dir]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            bufsize=1)
    other: List[str] = []
    try:
        assert proc.stderr is not None
        for raw in proc.stderr:
            text = raw.rstrip("\n").replace("\r\033[K", "").strip("\r")
            if _PROGRESS.match(text):
                progress.line(text)
            elif text:
                other.append(text)
        proc.wait()
    except KeyboardInterrupt:
        # A terminal's Ctrl-C reaches calma too; a signal sent to Python alone
        # is passed on. Either way calma ends its worker and writes the
        # partial report before it exits.
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        progress.end()
        exc = KeyboardInterrupt()
        exc.partial_report = _read_report(run_dir)  # type: ignore[attr-defined]
        raise exc from None
    finally:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    progress.end()
    if proc.returncode == 2:
        raise CalmaError(_message("\n".join(other), "calma bench"), exit_code=2)
    report = _read_report(run_dir)
    if report is None:
        raise CalmaError(f"calma bench exited {proc.returncode} without a report: "
                         + _message("\n".join(other), "calma bench"), exit_code=proc.returncode)
    if proc.returncode == 130:
        exc = KeyboardInterrupt()
        exc.partial_report = report  # type: ignore[attr-defined]
        raise exc
    return report


def _read_report(run_dir: str) -> Optional[Dict[str, Any]]:
    path = os.path.join(run_dir, "report.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
