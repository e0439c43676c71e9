"""Service-level objectives: parse ``key=value`` thresholds, gate levels, derive goodput limits.

Keys (any subset; none means no gate):

- ``{mean,median,p90,p95,p99}_{ttft,tpot,itl,e2el}_ms``: the level's figure must be at most the value.
- ``min_output_throughput``, ``min_request_throughput``, ``min_total_token_throughput``,
  ``min_request_goodput``: at least the value (tokens or requests per second).
- ``max_error_rate``: failed / sent, a fraction in [0, 1].

A figure the probe could not measure (TPOT on an endpoint that cannot stream, anything when no
request succeeded) fails its check: an SLO is never passed by default.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from vllm_vertex.errors import SloError

__all__ = ["SLO_KEYS", "SloCheck", "evaluate", "gate", "goodput_limits", "parse_slo"]

METRICS = ("ttft", "tpot", "itl", "e2el")  # as metrics.METRICS; this module is also in steps without metrics.py
_LATENCY_STATS = ("mean", "median", "p90", "p95", "p99")
_LATENCY = {f"{s}_{m}_ms": f"{s}_{m}_ms" for m in METRICS for s in _LATENCY_STATS}
_FLOORS = {
    "min_output_throughput": "output_throughput",
    "min_request_throughput": "request_throughput",
    "min_total_token_throughput": "total_token_throughput",
    "min_request_goodput": "request_goodput",
}
_CEILINGS = {**_LATENCY, "max_error_rate": "error_rate"}
SLO_KEYS = tuple(sorted(_CEILINGS)) + tuple(sorted(_FLOORS))


@dataclass(frozen=True)
class SloCheck:
    """One threshold against one level."""

    key: str
    threshold: float
    value: float | None
    passed: bool
    concurrency: int
    estimated: bool = False

    def describe(self) -> str:
        """``p95_ttft_ms 812.3 > 500 at concurrency 16``."""
        label = f"{self.key}{' (estimate)' if self.estimated else ''}"
        if self.value is None:
            return f"{label} not measured at concurrency {self.concurrency}"
        op = ("<=" if self.passed else ">") if self.key in _CEILINGS else (">=" if self.passed else "<")
        return f"{label} {self.value:.4g} {op} {self.threshold:g} at concurrency {self.concurrency}"


def parse_slo(specs: Iterable[str] | str | None) -> dict[str, float]:
    """``["p95_ttft_ms=500,p95_tpot_ms=50", "max_error_rate=0.01"]`` → thresholds by key.

    Raises:
        SloError: malformed ``key=value``, unknown key (with the closest valid one), non-numeric,
            negative or non-finite value, an error rate above 1, or a key given twice with two values.
    """
    if isinstance(specs, str):
        specs = [specs]
    out: dict[str, float] = {}
    for spec in specs or []:
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            key, sep, raw = (x.strip() for x in part.partition("="))
            if not sep or not key or not raw:
                raise SloError(f"{part!r} is not key=value: write e.g. p95_ttft_ms=500")
            if key not in SLO_KEYS:
                close = difflib.get_close_matches(key, SLO_KEYS, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise SloError(
                    f"unknown SLO key {key!r}: {hint}valid keys are "
                    "{mean,median,p90,p95,p99}_{ttft,tpot,itl,e2el}_ms, "
                    "min_output_throughput, min_request_throughput, min_total_token_throughput, min_request_goodput, "
                    "max_error_rate"
                )
            try:
                value = float(raw)
            except ValueError:
                raise SloError(f"{key}={raw!r}: the value must be a number, e.g. {key}=500") from None
            if not math.isfinite(value) or value < 0:
                raise SloError(f"{key}={raw}: the value must be a finite number >= 0")
            if key == "max_error_rate" and value > 1:
                raise SloError(f"max_error_rate={raw}: give a fraction between 0 and 1 (0.05 for 5 %)")
            if key in out and out[key] != value:
                raise SloError(f"{key} is given twice ({out[key]:g} and {value:g}): keep one")
            out[key] = value
    return out


def goodput_limits(slo: dict[str, float]) -> dict[str, float]:
    """Per-request limits for vLLM's goodput: the tightest TTFT, TPOT and E2EL threshold given, in ms."""
    limits: dict[str, float] = {}
    for key, value in slo.items():
        metric = key.split("_")[1] if key in _LATENCY else ""
        if metric in ("ttft", "tpot", "e2el"):
            limits[metric] = min(value, limits.get(metric, math.inf))
    return limits


def evaluate(slo: dict[str, float], level: dict[str, Any]) -> list[SloCheck]:
    """Each threshold against one level's figures."""
    checks = []
    for key, threshold in slo.items():
        figure = _CEILINGS.get(key) or _FLOORS[key]
        value = level.get(figure)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            passed = False
        elif key in _CEILINGS:
            passed = value <= threshold
        else:
            passed = value >= threshold
        estimated = bool(level.get("ttft_estimated")) and "_ttft_" in key
        checks.append(SloCheck(key, threshold, value, passed, int(level["concurrency"]), estimated))
    return checks


def gate(slo: dict[str, float], levels: list[dict[str, Any]]) -> dict[str, Any]:
    """The verdict over every level: ``{"passed", "thresholds", "checks", "missed"}``.

    With no thresholds the gate passes (there is nothing to miss); with thresholds every level must
    meet every one of them.
    """
    checks = [c for level in levels for c in evaluate(slo, level)]
    missed = [c.describe() for c in checks if not c.passed]
    return {
        "passed": not missed,
        "gated": bool(slo),
        "thresholds": dict(slo),
        "checks": [asdict(c) for c in checks],
        "missed": missed,
    }
