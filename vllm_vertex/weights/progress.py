"""Progress of a staging run for the step log: bytes, rate and time left, at most every few seconds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Progress", "human_bytes"]


def human_bytes(n: float) -> str:
    """``1.5 GB`` (decimal units, as the Hub and Cloud Storage show sizes)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """Counts copied bytes from several threads; ``line()`` is the log line.

    Args:
        total: Bytes to copy in this run.
        every: Seconds between two lines from ``tick``.
        clock: Monotonic seconds (injected by tests).
    """

    def __init__(self, total: int, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.every, self._clock = total, every, clock
        self.done = 0
        self._start = clock()
        self._last = self._start
        self._lock = threading.Lock()

    def add(self, n: int) -> str | None:
        """Counts ``n`` more bytes; returns a line when one is due (``every`` seconds since the last)."""
        with self._lock:
            self.done += n
            now = self._clock()
            if now - self._last < self.every:
                return None
            self._last = now
        return self.line()

    @property
    def elapsed(self) -> float:
        """Seconds since the start."""
        return self._clock() - self._start

    def line(self) -> str:
        """``staged 1.2 GB of 16.0 GB (7 %), 120.0 MB/s, ETA 2 min 10 s``."""
        elapsed = max(self.elapsed, 1e-9)
        rate = self.done / elapsed
        share = 100 * self.done / self.total if self.total else 100.0
        left = f"ETA {_duration((self.total - self.done) / rate)}" if rate > 0 and self.done < self.total else "done"
        return (f"staged {human_bytes(self.done)} of {human_bytes(self.total)} ({share:.0f} %), "
                f"{human_bytes(rate)}/s, {left}")
