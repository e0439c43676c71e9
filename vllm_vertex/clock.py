"""The clock product code waits by: real time, unless a test installs a virtual one.

Every poll and backoff (operation polling, retries, teardown's busy waits, following a run) reads
``monotonic()`` and waits with ``sleep()`` from here, never from ``time`` directly, so that a test can
``use()`` a clock whose ``sleep`` advances virtual time and returns at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Clock", "SystemClock", "current", "monotonic", "sleep", "use"]


class Clock(Protocol):
    """What waiting needs: a monotonic reading in seconds, and a way to let seconds pass."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Real time: ``time.monotonic`` and ``time.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


_current: Clock = SystemClock()


def current() -> Clock:
    """The clock in use (``SystemClock`` unless inside ``use``)."""
    return _current


def monotonic() -> float:
    """Seconds on the current clock (only differences mean anything)."""
    return _current.monotonic()


def sleep(seconds: float) -> None:
    """Lets ``seconds`` pass on the current clock."""
    _current.sleep(seconds)


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Makes ``clock`` the current clock of the process until the block ends."""
    global _current
    before, _current = _current, clock
    try:
        yield clock
    finally:
        _current = before
