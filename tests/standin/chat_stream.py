"""OpenAI chat completions with known timing: the script both fake servers follow.

``ChatTiming`` says how long the first token takes (optionally growing with the requests in
flight beyond a knee), the gap between tokens, and which requests fail (every k-th answered 503,
every k-th stream cut after some tokens). ``TimedChatServer`` is an asyncio OpenAI-compatible server
(``/v1/models``, ``/v1/chat/completions``, streamed or not) that follows it exactly; the stand-in's
``FakeBackend`` follows the same script behind Vertex's chat route.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

__all__ = ["ChatTiming", "TimedChatServer", "chunk_events", "completion_body", "main", "token_count"]


@dataclass
class ChatTiming:
    """The fake model's timing and faults.

    Attributes:
        ttft_s: Time to the first token with at most ``knee`` requests in flight.
        itl_s: Gap between tokens.
        knee: Requests in flight the server handles without slowing down (0: no knee).
        ttft_slope_s: Extra TTFT per request in flight beyond ``knee``.
        error_every: Every k-th request is answered HTTP 503 (0: none).
        cut_every: Every k-th streamed request is cut after ``cut_after`` tokens (0: none).
        cut_after: Tokens sent before a cut.
        prompt_tokens: ``usage.prompt_tokens`` reported (0: one per prompt word).
    """

    ttft_s: float = 0.0
    itl_s: float = 0.0
    knee: int = 0
    ttft_slope_s: float = 0.0
    error_every: int = 0
    cut_every: int = 0
    cut_after: int = 2
    prompt_tokens: int = 0
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ttft(self, in_flight: int) -> float:
        """TTFT with ``in_flight`` requests being served (this one included)."""
        extra = max(0, in_flight - self.knee) * self.ttft_slope_s if self.knee else 0.0
        return self.ttft_s + extra

    def next_request(self) -> int:
        """The 1-based number of the next request (thread-safe)."""
        with self._lock:
            return next(self._counter)

    def fails(self, n: int) -> bool:
        return bool(self.error_every) and n % self.error_every == 0

    def cuts(self, n: int) -> bool:
        return bool(self.cut_every) and n % self.cut_every == 0


def _prompt_words(body: dict) -> int:
    words = 0
    for message in body.get("messages") or []:
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        words += sum(len(str(p.get("text", "")).split()) for p in parts if isinstance(p, dict))
    return words


def token_count(body: dict) -> int:
    """Tokens the fake model generates: ``max_tokens`` (EOS ignored or not, the fake never stops early)."""
    return max(1, int(body.get("max_tokens") or body.get("max_completion_tokens") or 16))


def _usage(body: dict, timing: ChatTiming, completion: int) -> dict:
    prompt = timing.prompt_tokens or _prompt_words(body)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def completion_body(body: dict, timing: ChatTiming) -> dict:
    """The non-streamed answer."""
    n = token_count(body)
    return {
        "id": "chatcmpl-timed", "object": "chat.completion", "created": int(time.time()), "model": body.get("model") or "timed",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": " ".join(["tok"] * n)}, "finish_reason": "length"}],
        "usage": _usage(body, timing, n),
    }


def chunk_events(body: dict, timing: ChatTiming, cut: bool = False) -> list[bytes]:
    """The SSE events of a streamed answer, in order: one per token (the last carries finish_reason),
    the usage chunk when asked for, ``[DONE]``. A cut stream stops after ``timing.cut_after`` tokens."""
    n = token_count(body)
    base = {"id": "chatcmpl-timed", "object": "chat.completion.chunk", "created": int(time.time()), "model": body.get("model") or "timed"}
    events = []
    for i in range(n):
        delta = {"role": "assistant", "content": "tok"} if i == 0 else {"content": " tok"}
        choice = {"index": 0, "delta": delta, "finish_reason": "length" if i == n - 1 else None}
        events.append(b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n")
        if cut and i + 1 >= timing.cut_after:
            return events
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append(b"data: " + json.dumps({**base, "choices": [], "usage": _usage(body, timing, n)}).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


class TimedChatServer:
    """An asyncio OpenAI-compatible chat server on 127.0.0.1 following ``ChatTiming``, in its own thread.

    ``with TimedChatServer(ChatTiming(ttft_s=0.05, itl_s=0.01)) as s: s.base_url`` → ``http://127.0.0.1:P/v1``.
    ``requests`` keeps every chat request body; ``max_in_flight`` the most requests served at once;
    ``connections`` the connections accepted. What the server really did, for benchmarks that compare a
    client with it: ``served_ttft_s`` (per streamed request, from reading the request to writing its first
    token) and ``late_s`` (per later token, how far past its due time it was written); ``GET /v1/stats``
    answers them too (the server may run in its own process).
    """

    def __init__(self, timing: ChatTiming | None = None, model: str = "timed-model") -> None:
        self.timing, self.model = timing or ChatTiming(), model
        self.requests: list[dict] = []
        self.in_flight = self.max_in_flight = self.connections = 0
        self.served_ttft_s: list[float] = []
        self.late_s: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> TimedChatServer:
        self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024), self._loop)
        self._server = fut.result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        async def stop():
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if not await self._answer(method, path, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @staticmethod
    def _json(writer, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "Error")
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)

    async def _answer(self, method: str, path: str, raw: bytes, writer) -> bool:
        """Serves one request; False when the connection must close (a cut stream)."""
        received = time.perf_counter()
        if method == "GET" and path.rstrip("/") == "/v1/stats":
            stats = {"connections": self.connections, "served_ttft_s": self.served_ttft_s, "late_s": self.late_s}
            self._json(writer, 200, stats)
            return True
        if method == "GET" and path.rstrip("/") == "/v1/models":
            self._json(writer, 200, {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "test"}]})
            return True
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            self._json(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            return True
        body = json.loads(raw or b"{}")
        self.requests.append(body)
        n = self.timing.next_request()
        if self.timing.fails(n):
            self._json(writer, 503, {"error": {"message": "injected 503", "type": "unavailable", "code": 503}})
            return True
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.timing.ttft(self.in_flight))
            if not body.get("stream"):
                await asyncio.sleep(self.timing.itl_s * (token_count(body) - 1))
                self._json(writer, 200, completion_body(body, self.timing))
                return True
            cut = self.timing.cuts(n)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            events = chunk_events(body, self.timing, cut)
            first = time.perf_counter()  # token i is due itl × i after the first, whatever the sleeps overshoot
            for i, event in enumerate(events):
                if 0 < i < token_count(body):
                    due = first + i * self.timing.itl_s
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    self.late_s.append(max(0.0, time.perf_counter() - due))
                writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                if i == 0:
                    self.served_ttft_s.append(time.perf_counter() - received)
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
            if cut:
                return False  # close without the terminating chunk: the client sees a broken stream
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        finally:
            self.in_flight -= 1


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.standin.chat_stream --ttft-ms 50 --itl-ms 10 [--knee N --slope-ms S]``: serve until killed.

    Prints ``PORT <n>`` once listening (benchmarks run it in its own process, so the server and the
    client under test do not share one interpreter).
    """
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--ttft-ms", type=float, default=0.0)
    p.add_argument("--itl-ms", type=float, default=0.0)
    p.add_argument("--knee", type=int, default=0)
    p.add_argument("--slope-ms", type=float, default=0.0)
    a = p.parse_args(argv)
    timing = ChatTiming(ttft_s=a.ttft_ms / 1000, itl_s=a.itl_ms / 1000, knee=a.knee, ttft_slope_s=a.slope_ms / 1000)
    with TimedChatServer(timing) as server:
        print(f"PORT {server.port}", flush=True)
        while True:  # until the benchmark terminates the process
            time.sleep(3600)


if __name__ == "__main__":
    main()
