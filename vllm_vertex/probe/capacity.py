"""Capacity under the SLO: the highest concurrency one replica serves within every threshold.

Grow (1, 2, 4, … doubling) until a level misses the SLO or the limit is reached, then bisect
between the last level that met it and the first that missed it, as GuideLLM's and AIPerf's
searches do. Bounded by a request budget and a time budget: the search stops before a level
it cannot afford and reports what it had found, and why it stopped.

The search is a pure state machine (``next_concurrency`` / ``record``); the client drives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CapacitySearch", "requests_for_level"]


def requests_for_level(concurrency: int, num_requests: int) -> int:
    """Requests sent at one search level: ``num_requests``, and at least two per slot in flight."""
    return max(num_requests, 2 * concurrency)


@dataclass
class CapacitySearch:
    """Grow-then-bisect search.

    Attributes:
        num_requests: Requests per level (at least two per concurrent slot, see ``requests_for_level``).
        max_requests: Request budget for the whole search (> 0).
        max_seconds: Time budget for the whole search (> 0).
        start: First concurrency tried.
        limit: Highest concurrency tried.
        clock: Seconds, monotonic (injected for tests).
    """

    num_requests: int
    max_requests: int
    max_seconds: float
    start: int = 1
    limit: int = 1024
    clock: Callable[[], float] = time.monotonic
    steps: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = ""
    _lo: int = 0  # highest concurrency that met the SLO
    _hi: int = 0  # lowest concurrency that missed it (0: none yet)
    _used: int = 0
    _began: float | None = None
    _step_began: float | None = None
    _last_seconds: float = 0.0
    _best: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.num_requests <= 0 or self.max_requests <= 0 or self.max_seconds <= 0:
            raise ValueError("the capacity search needs a request budget and a time budget above zero")
        if not 1 <= self.start <= self.limit:
            raise ValueError(f"the capacity search starts at 1..{self.limit}, not {self.start}")

    def _candidate(self) -> int | None:
        if self._hi == 0:
            if self._lo == 0:
                return self.start
            if self._lo >= self.limit:
                self.stopped_by = "limit"
                return None
            return min(self._lo * 2, self.limit)
        if self._lo == 0 and self._hi <= 1:
            self.stopped_by = "first_level_missed"
            return None
        if self._hi - self._lo <= max(1, self._lo // 16):
            self.stopped_by = "resolution"
            return None
        return (self._lo + self._hi) // 2

    def next_concurrency(self) -> int | None:
        """The next concurrency to measure, or None when the search is over (see ``stopped_by``)."""
        now = self.clock()
        if self._began is None:
            self._began = now
        c = self._candidate()
        if c is None:
            return None
        if self._used + requests_for_level(c, self.num_requests) > self.max_requests:
            self.stopped_by = "request_budget"
            return None
        if now - self._began + self._last_seconds > self.max_seconds:
            self.stopped_by = "time_budget"
            return None
        self._step_began = now
        return c

    def record(self, concurrency: int, level: dict[str, Any], passed: bool, missed: list[str] | None = None) -> None:
        """The result of measuring ``concurrency``: its figures and whether it met the SLO."""
        now = self.clock()
        self._last_seconds = max(0.0, now - (self._step_began if self._step_began is not None else now))
        self._step_began = None
        self._used += int(level.get("num_requests") or requests_for_level(concurrency, self.num_requests))
        self.steps.append(
            {"concurrency": concurrency, "passed": passed, "missed": list(missed or []), "seconds": self._last_seconds}
        )
        if passed:
            if concurrency > self._lo:
                self._lo, self._best = concurrency, level
        elif self._hi == 0 or concurrency < self._hi:
            self._hi = concurrency

    @property
    def requests_used(self) -> int:
        """Requests sent so far."""
        return self._used

    def result(self) -> dict[str, Any]:
        """``{"max_concurrency", "request_throughput", "output_throughput", "summary", "steps", ...}``."""
        best = self._best or {}
        c = self._lo
        out: dict[str, Any] = {
            "max_concurrency": c,
            "request_throughput": best.get("request_throughput"),
            "output_throughput": best.get("output_throughput"),
            "first_missed_concurrency": self._hi or None,
            "stopped_by": self.stopped_by or "running",
            "requests_used": self._used,
            "steps": list(self.steps),
        }
        if c:
            out["summary"] = (
                f"one replica serves {c} concurrent requests ({best['request_throughput']:.2f} req/s, "
                f"{best['output_throughput']:.1f} output tok/s) within the SLO"
            )
        else:
            out["summary"] = "no concurrency met the SLO (even one request at a time misses it)"
        if self.stopped_by in ("request_budget", "time_budget") and self._hi == 0:
            out["summary"] += f"; the {self.stopped_by.replace('_', ' ')} ran out before any level missed it"
        return out
