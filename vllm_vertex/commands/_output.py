"""Everything the CLI prints passes one filter: credentials masked, control characters shown escaped.

A server's error body, a model's answer or a Vertex message may carry ``ESC]0;title BEL`` or
``ESC[2J``; printed raw they would retitle or clear the user's terminal. ``install`` puts a
``SafeStream`` in front of ``sys.stdout`` and ``sys.stderr``, so ``click.echo``, ``print`` and the
prompts all go through ``textsafe.terminal``.
"""

from __future__ import annotations

import io
import sys

from vllm_vertex.textsafe import terminal

__all__ = ["SafeStream", "install"]


class SafeStream(io.TextIOBase):
    """A text stream that writes ``terminal(text)`` to the stream it wraps."""

    def __init__(self, stream) -> None:
        super().__init__()
        self.wrapped = stream

    def write(self, text: str) -> int:
        """Writes ``text`` masked and with its control characters escaped; returns ``len(text)``."""
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.wrapped.write(terminal(text))
        return len(text)

    def flush(self) -> None:
        """Flushes the wrapped stream."""
        self.wrapped.flush()

    def isatty(self) -> bool:
        """Whether the wrapped stream is a terminal."""
        return self.wrapped.isatty()

    def fileno(self) -> int:
        """The wrapped stream's file descriptor."""
        return self.wrapped.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # read-only here: the wrapped stream's value
        """The wrapped stream's encoding (click checks it)."""
        return getattr(self.wrapped, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]  # read-only here: the wrapped stream's value
        """The wrapped stream's error handler (click checks it)."""
        return getattr(self.wrapped, "errors", None)


def install() -> None:
    """Puts a ``SafeStream`` in front of ``sys.stdout`` and ``sys.stderr`` (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, SafeStream):
            setattr(sys, name, SafeStream(stream))
