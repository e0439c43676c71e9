"""One request's timing record, as ``vllm bench serve`` keeps it (``RequestFuncOutput``).

Times are seconds from ``time.perf_counter()``. A streamed request fills ``ttft`` (first chunk
that carries ``choices``) and ``itl`` (every later such chunk's gap to the one before, per chunk,
not per token); ``latency`` ends at the last chunk that carries ``choices`` (the trailing usage
chunk does not count). A request that is not streamed has ``ttft is None`` and ``itl == []``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestRecord", "StreamTimer"]


@dataclass
class RequestRecord:
    """What one request measured.

    Attributes:
        success: The request finished and delivered at least one chunk with choices.
        start_time: When the request was sent (perf_counter seconds).
        latency: End-to-end latency (E2EL), seconds; 0 when it failed.
        ttft: Time to first token, seconds; None when not streamed.
        itl: Gaps between successive chunks after the first, seconds.
        prompt_tokens: Prompt tokens from the server's ``usage`` (0 when it sent none).
        output_tokens: Completion tokens from the server's ``usage`` (0 when it sent none).
        error: Why it failed (short); empty on success.
        kind: ``"main"`` (counted), ``"ttft_estimate"`` (a ``max_tokens=1`` request) or ``"warmup"``.
        image: The request carried an image (image+text).
    """

    success: bool = False
    start_time: float = 0.0
    latency: float = 0.0
    ttft: float | None = None
    itl: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    error: str = ""
    kind: str = "main"
    image: bool = False


class StreamTimer:
    """Builds a ``RequestRecord`` from the chunks of one streamed response, as vLLM's client does.

    Call ``chunk(t, has_choices, usage)`` for every parsed SSE event, then ``finish()``.
    """

    def __init__(self, start: float, kind: str = "main") -> None:
        self.record = RequestRecord(start_time=start, kind=kind)
        self._last = start
        self._first = False
        self._finished = False

    def chunk(
        self, timestamp: float, has_choices: bool, usage: dict[str, Any] | None = None, finish_reason: str | None = None
    ) -> None:
        """One event: a chunk with choices times the stream; a usage chunk only carries counts.

        ``finish_reason`` (of the chunk's first choice) marks a response the server completed.
        """
        if finish_reason:
            self._finished = True
        if has_choices:
            if not self._first:
                self._first = True
                self.record.ttft = timestamp - self.record.start_time
            else:
                self.record.itl.append(timestamp - self._last)
            self._last = timestamp
        elif usage:
            self.record.output_tokens = int(usage.get("completion_tokens") or 0)
            self.record.prompt_tokens = int(usage.get("prompt_tokens") or 0)

    def finish(self) -> RequestRecord:
        """The record: successful only when a chunk with choices arrived and the server finished it.

        A stream that ends without any ``finish_reason`` was cut (vLLM's client would count it; we
        count it failed, since its figures describe a response the user never got whole).
        """
        rec = self.record
        if self._first and not self._finished:
            rec.success, rec.error = False, "the stream ended before the response finished (no finish_reason)"
        elif self._first:
            rec.success = True
            rec.latency = self._last - rec.start_time
        else:
            rec.success, rec.error = False, rec.error or "no chunk with choices arrived (cannot time the first token)"
        return rec

    def fail(self, error: str) -> RequestRecord:
        """The stream broke: the request is failed whatever arrived before."""
        rec = self.record
        rec.success, rec.error = False, error
        return rec
