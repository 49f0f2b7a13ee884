"""Typed results of a calma run, read from the report.json calma writes.

Times are in milliseconds, rates per second and memory in MiB: the unit is in
every field's name. A figure calma could not measure (a trial that crashed
before sampling, say) is ``None``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

Key = Union[str, Tuple[str, int, int]]


def _num(d: Optional[Dict[str, Any]], key: str, scale: float = 1.0) -> Optional[float]:
    if not d:
        return None
    v = d.get(key)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v) * scale
    return None


@dataclass(frozen=True)
class OutputCheck:
    """One output of a trial compared with the reference (calma's oracle, or
    the outputs given as expected)."""

    name: str
    passed: bool
    max_abs_error: Optional[float]
    max_rel_error: Optional[float]
    cosine: Optional[float]
    nonfinite: Optional[int]
    reference: str
    why: str


@dataclass(frozen=True)
class Validation:
    """A trial's outputs against the reference: the verdict (``pass``,
    ``fail`` or ``no oracle: ...``) and each output's errors; the worst of
    them are repeated at the top."""

    verdict: str
    passed: bool
    reference: str
    max_abs_error: Optional[float]
    max_rel_error: Optional[float]
    cosine: Optional[float]
    outputs: Tuple[OutputCheck, ...]

    @staticmethod
    def from_json(v: Optional[Dict[str, Any]]) -> Optional["Validation"]:
        if not v:
            return None
        outs = tuple(
            OutputCheck(
                name=str(o.get("name", "")),
                passed=bool(o.get("pass")),
                max_abs_error=_num(o, "max_abs"),
                max_rel_error=_num(o, "max_rel"),
                cosine=_num(o, "cosine"),
                nonfinite=int(o["nonfinite"]) if isinstance(o.get("nonfinite"), (int, float)) else None,
                reference=str(o.get("reference", "oracle")),
                why=str(o.get("why", "")),
            )
            for o in v.get("outputs", [])
        )
        abs_e = [o.max_abs_error for o in outs if o.max_abs_error is not None]
        rel_e = [o.max_rel_error for o in outs if o.max_rel_error is not None]
        cos = [o.cosine for o in outs if o.cosine is not None]
        verdict = str(v.get("verdict", "-"))
        return Validation(
            verdict=verdict,
            passed=verdict == "pass",
            reference=str(v.get("reference", "oracle")),
            max_abs_error=max(abs_e) if abs_e else None,
            max_rel_error=max(rel_e) if rel_e else None,
            cosine=min(cos) if cos else None,
            outputs=outs,
        )


@dataclass(frozen=True)
class Trial:
    """One conversion at one batch size and thread count.

    ``status`` is exactly one of ``ok``, ``mismatch``, ``unsupported``,
    ``unavailable``, ``timeout``, ``crashed``, ``oom``, ``error`` (or
    ``interrupted`` in a partial result), and ``message`` says why whenever it
    is not ``ok``. ``median_ms`` is the median time of one call (one batch),
    ``ci_ms`` its 95% interval (holding the spread between worker processes),
    ``throughput_per_s`` samples (not calls) per second.
    """

    id: str
    model: str
    conversion: str
    batch: int
    threads: int
    status: str
    message: str
    median_ms: Optional[float]
    ci_ms: Optional[Tuple[float, float]]
    p90_ms: Optional[float]
    p99_ms: Optional[float]
    mean_ms: Optional[float]
    std_ms: Optional[float]
    min_ms: Optional[float]
    max_ms: Optional[float]
    samples: Optional[int]
    processes: Optional[int]
    throughput_per_s: Optional[float]
    load_ms: Optional[float]
    convert_ms: Optional[float]
    first_run_ms: Optional[float]
    peak_rss_mb: Optional[float]
    warnings: Tuple[str, ...]
    validation: Optional[Validation]
    raw: Dict[str, Any] = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """Ran and validated."""
        return self.status == "ok"

    @property
    def key(self) -> Tuple[str, int, int]:
        """(conversion, batch, threads)."""
        return (self.conversion, self.batch, self.threads)

    @staticmethod
    def from_json(t: Dict[str, Any], model: str) -> "Trial":
        s = t.get("stats")
        lo, hi = _num(s, "ci_lo", 1e3), _num(s, "ci_hi", 1e3)
        procs = t.get("processes")
        n = _num(s, "n")
        return Trial(
            id=str(t.get("id", "")),
            model=str(t.get("model") or model),
            conversion=str(t.get("conversion", "")),
            batch=int(t.get("batch", 1)),
            threads=int(t.get("threads", 1)),
            status=str(t.get("status", "")),
            message=str(t.get("message", "")),
            median_ms=_num(s, "median", 1e3),
            ci_ms=(lo, hi) if lo is not None and hi is not None else None,
            p90_ms=_num(s, "p90", 1e3),
            p99_ms=_num(s, "p99", 1e3),
            mean_ms=_num(s, "mean", 1e3),
            std_ms=_num(s, "stddev", 1e3),
            min_ms=_num(s, "min", 1e3),
            max_ms=_num(s, "max", 1e3),
            samples=int(n) if n is not None else None,
            processes=len(procs) if isinstance(procs, list) else (1 if s else None),
            throughput_per_s=_num(t.get("throughput"), "per_s_median"),
            load_ms=_num(t.get("phases"), "load_s", 1e3),
            convert_ms=_num(t.get("phases"), "convert_s", 1e3),
            first_run_ms=_num(t.get("phases"), "first_s", 1e3),
            peak_rss_mb=_num(t.get("memory"), "peak", 1.0 / 2**20),
            warnings=tuple(str(w) for w in t.get("warnings", [])),
            validation=Validation.from_json(t.get("validation")),
            raw=t,
        )

    def to_dict(self) -> Dict[str, Any]:
        """The typed fields as plain data (without ``raw``)."""
        d = asdict(self)
        d.pop("raw", None)
        return d


class Results:
    """The trials of one :func:`calma.benchmark` call, in plan order.

    ``results["ORT_CPU"]`` is the trial of that conversion when there is
    exactly one (else a :class:`KeyError` lists the choices);
    ``results["ORT_CPU", 8, 2]`` picks by (conversion, batch, threads).
    ``print(results)`` shows calma's own table.
    """

    def __init__(self, reports: Sequence[Dict[str, Any]], table: str = "") -> None:
        self.reports: List[Dict[str, Any]] = list(reports)
        self.table = table
        self.trials: List[Trial] = []
        for r in self.reports:
            model = str((r.get("model") or {}).get("name", ""))
            self.trials.extend(Trial.from_json(t, model) for t in r.get("trials", []))
        self.interrupted = any(r.get("interrupted") for r in self.reports)

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, key: Key) -> Trial:
        if isinstance(key, tuple):
            for t in self.trials:
                if t.key == tuple(key):
                    return t
            raise KeyError(f"no trial {key}; trials: {[t.key for t in self.trials]}")
        found = [t for t in self.trials if t.conversion == key or t.id == key]
        if len(found) == 1:
            return found[0]
        if not found:
            raise KeyError(f"no trial of {key!r}; conversions: "
                           f"{sorted({t.conversion for t in self.trials})}")
        raise KeyError(f"{key!r} ran {len(found)} trials; pick one by (conversion, batch, threads): "
                       f"{[t.key for t in found]}")

    def __str__(self) -> str:
        return self.table or "\n".join(
            f"{t.conversion} b{t.batch} t{t.threads}: {t.status}"
            + (f", median {t.median_ms:.4g} ms" if t.median_ms is not None else "")
            for t in self.trials)

    def __repr__(self) -> str:
        return f"<calma.Results: {len(self.trials)} trials, best {self.best.key if self.best else None}>"

    @property
    def baseline(self) -> Optional[str]:
        """The conversion speed-ups are measured against (calma's choice:
        TORCH_EAGER when it ran, else ORT_CPU, else the first ok trial)."""
        for r in self.reports:
            if r.get("baseline"):
                return str(r["baseline"])
        return None

    def _winner(self, key: str) -> Optional[Trial]:
        best: Optional[Trial] = None
        for r in self.reports:
            w = r.get(key)
            if not w:
                continue
            t = next((t for t in self.trials if t.id == w.get("id") and t.batch == w.get("batch")), None)
            if t is None:
                continue
            if best is None:
                best = t
            elif key == "best_throughput":
                if (t.throughput_per_s or 0) > (best.throughput_per_s or 0):
                    best = t
            elif t.batch < best.batch or (t.batch == best.batch and (t.median_ms or 1e300) < (best.median_ms or 1e300)):
                best = t
        return best

    @property
    def best(self) -> Optional[Trial]:
        """The ok trial with the lowest median per call at the smallest batch
        size (never a mismatch); ``None`` when no trial is ok."""
        return self._winner("best_latency") or self._winner("best")

    @property
    def best_throughput(self) -> Optional[Trial]:
        """The ok trial with the most samples per second over every batch."""
        return self._winner("best_throughput")

    def speedups(self, baseline: Optional[str] = None) -> Dict[Tuple[str, int, int], float]:
        """Median of ``baseline`` (default :attr:`baseline`) over each ok
        trial's median, at the same batch size and thread count."""
        base = baseline or self.baseline
        out: Dict[Tuple[str, int, int], float] = {}
        if base is None:
            return out
        ref = {(t.batch, t.threads): t for t in self.trials if t.conversion == base and t.ok}
        for t in self.trials:
            b = ref.get((t.batch, t.threads))
            if t.ok and b and b.median_ms and t.median_ms:
                out[t.key] = b.median_ms / t.median_ms
        return out

    def to_dict(self) -> Dict[str, Any]:
        """Every trial's typed fields, the winners and the baseline."""
        return {
            "baseline": self.baseline,
            "best": self.best.key if self.best else None,
            "best_throughput": self.best_throughput.key if self.best_throughput else None,
            "interrupted": self.interrupted,
            "trials": [t.to_dict() for t in self.trials],
        }

    def to_json(self, path: str) -> None:
        """Writes :meth:`to_dict` to path as JSON."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
            f.write("\n")

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one row per trial (needs pandas)."""
        try:
            import pandas as pd  # type: ignore[import-not-found]
        except ImportError as e:
            raise ImportError("to_pandas() needs pandas (apt-get install python3-pandas)") from e
        rows = []
        for t in self.trials:
            d = t.to_dict()
            v = d.pop("validation") or {}
            d["validation"] = v.get("verdict")
            d["max_abs_error"] = v.get("max_abs_error")
            d["cosine"] = v.get("cosine")
            rows.append(d)
        return pd.DataFrame(rows)
