"""Every pipeline step's stdout and stderr, passed through the one mask (``redact.mask``) line by line.

``components/_runtime.py`` makes each step's program call :func:`mask_streams` before the step's function
runs, so nothing a step prints, ours or a library's, carries a token into the step's log.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from typing import Any, TextIO

from vllm_vertex.redact import mask

__all__ = ["MaskedStream", "mask_streams"]

_MAX_PENDING = 1 << 16  # a line longer than this is masked and written in pieces


class MaskedStream:
    """A text stream that holds what is written until a line ends, then writes it masked to ``raw``.

    A token written in pieces (``write("hf_ab")``, ``write("cd...\\n")``) is masked whole. ``flush`` keeps
    an unfinished line back (it could be the first half of a token); ``close`` and the end of the
    process write it. Everything else (``fileno``, ``encoding``, ``isatty``) is ``raw``'s.
    """

    def __init__(self, raw: TextIO) -> None:
        self.raw, self._pending, self._lock = raw, "", threading.Lock()  # threads print too

    def write(self, text: str, end: bool = False) -> int:
        with self._lock:
            pending = self._pending + text
            cut = len(pending) if end or len(pending) > _MAX_PENDING else max(map(pending.rfind, "\n\r")) + 1
            self._pending = pending[cut:]
            if cut:
                self.raw.write(mask(pending[:cut]))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.raw.flush()

    def close(self) -> None:
        """Writes the unfinished line, masked; the real stream stays open (the interpreter owns it)."""
        self.write("", end=True)
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def mask_streams() -> None:
    """Puts a :class:`MaskedStream` on ``sys.stdout`` and ``sys.stderr`` (once), and on the logging handlers
    already writing to them, so what a step prints reaches its log masked."""
    for name in ("stdout", "stderr"):
        raw = getattr(sys, name)
        if raw is None or isinstance(raw, MaskedStream):
            continue
        stream = MaskedStream(raw)
        setattr(sys, name, stream)
        atexit.register(stream.close)
        for handler in logging.root.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is raw:
                handler.setStream(stream)
