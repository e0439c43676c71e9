"""A virtual clock for ``vllm_vertex.clock``: product code's polls and backoff take no wall time."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["VirtualClock"]


class VirtualClock:
    """``monotonic`` reads virtual seconds; ``sleep`` lets the stand-ins settle, then advances them at once.

    ``settlers`` are called before time advances (``VertexStandin.settle``: a deploy the stand-in is still
    running finishes first), so that a virtual deadline passes only on work that will not end by itself.
    ``slept`` holds every wait product code asked for, in order.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self.settlers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        for settle in list(self.settlers):
            settle()
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)
