"""``FakeBackend``: in-process containers speaking Google's vLLM container contract.

Each deployed model gets a tiny HTTP server on 127.0.0.1: ``GET {healthRoute}`` → 200,
``POST {predictRoute}`` with ``{"instances": [{"prompt", "max_tokens", "raw_response", ...}]}`` →
``{"predictions": ["Prompt:\\n{prompt}\\nOutput:\\n{text}"]}`` (bare text with ``raw_response``), and a
body with ``"@requestFormat": "chatCompletions"`` → an OpenAI chat completion (SSE when ``stream``).
With ``chat_timing`` (``ChatTiming``), chat answers follow its script instead: known TTFT and gap between
tokens, ``max_tokens`` tokens, ``usage`` when asked, every k-th request a 503, every k-th stream cut.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .chat_stream import ChatTiming, chunk_events, completion_body, token_count

__all__ = ["FakeBackend", "reply_text"]


def reply_text(prompt: str, max_tokens: int | None = None) -> str:
    """The fake model's answer: an echo of the prompt's words, at most ``max_tokens`` words."""
    words = ("You said: " + prompt).split()
    return " " + " ".join(words[: max_tokens or 64])


def _content(messages: list) -> str:
    for message in reversed(messages or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # multimodal parts
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
            return str(content or "")
    return ""


class FakeBackend:
    """``ServingBackend`` whose containers run in-process. ``fail_start``: message to raise on start;
    ``start_delay``: seconds ``start`` takes; ``healthy``: whether the health route answers 200."""

    def __init__(self, start_delay: float = 0.0, fail_start: str | None = None, healthy: bool = True,
                 chat_timing: ChatTiming | None = None) -> None:
        self.start_delay, self.fail_start, self.healthy = start_delay, fail_start, healthy
        self.chat_timing = chat_timing
        self.in_flight = 0
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (deployed model id, path, body)
        self.started: list[str] = []
        self.stopped: list[str] = []
        self._lock = threading.Lock()

    def start(self, deployed_model_id: str, model: dict, dedicated_resources: dict) -> str:
        time.sleep(self.start_delay)
        if self.fail_start:
            raise RuntimeError(self.fail_start)
        spec = model.get("containerSpec") or {}
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, deployed_model_id, spec))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        with self._lock:
            self.servers[deployed_model_id] = server
            self.started.append(deployed_model_id)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def stop(self, deployed_model_id: str) -> None:
        with self._lock:
            server = self.servers.pop(deployed_model_id, None)
            self.stopped.append(deployed_model_id)
        if server is not None:
            server.shutdown()
            server.server_close()

    def close(self) -> None:
        for dm_id in list(self.servers):
            self.stop(dm_id)


def _chat(body: dict) -> tuple[str, str]:
    text = reply_text(_content(body.get("messages", [])), int(body.get("max_tokens") or body.get("max_completion_tokens") or 0) or None)
    return text.strip(), body.get("model") or "fake-model"


def _handler(backend: FakeBackend, dm_id: str, spec: dict):
    predict_route = spec.get("predictRoute") or "/generate"
    health_route = spec.get("healthRoute") or "/ping"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _json(self, status: int, obj) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == health_route and backend.healthy:
                return self._json(200, {})
            self._json(503 if self.path == health_route else 404, {"error": "not ready" if self.path == health_route else "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with backend._lock:
                backend.requests.append((dm_id, self.path, body))
            if self.path != predict_route:
                return self._json(404, {"error": f"no route {self.path}"})
            if body.get("@requestFormat") == "chatCompletions":
                return self._chat(body)
            instances = body.get("instances") or []
            if not instances or not isinstance(instances[0], dict) or "prompt" not in instances[0]:
                return self._json(400, {"error": "instances[0].prompt is required"})
            inst = dict(instances[0])
            prompt, raw = inst.pop("prompt"), inst.pop("raw_response", False)
            text = reply_text(prompt, int(inst.get("max_tokens") or 0) or None)
            self._json(200, {"predictions": [text if raw else f"Prompt:\n{prompt}\nOutput:\n{text}"]})

        def _timed_chat(self, body: dict, timing: ChatTiming) -> None:
            n = timing.next_request()
            if timing.fails(n):
                return self._json(503, {"error": {"message": "injected 503", "code": 503}})
            with backend._lock:
                backend.in_flight += 1
                in_flight = backend.in_flight
            try:
                time.sleep(timing.ttft(in_flight))
                if not body.get("stream"):
                    time.sleep(timing.itl_s * (token_count(body) - 1))
                    return self._json(200, completion_body(body, timing))
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                first = time.perf_counter()
                for i, event in enumerate(chunk_events(body, timing, cut=timing.cuts(n))):
                    if 0 < i < token_count(body):
                        time.sleep(max(0.0, first + i * timing.itl_s - time.perf_counter()))
                    try:
                        self.wfile.write(event)
                        self.wfile.flush()
                    except OSError:  # the caller went away (the stand-in cut the stream)
                        return None
            finally:
                with backend._lock:
                    backend.in_flight -= 1

        def _chat(self, body: dict) -> None:
            if backend.chat_timing is not None:
                return self._timed_chat(body, backend.chat_timing)
            text, model = _chat(body)
            created = int(time.time())
            if not body.get("stream"):
                return self._json(200, {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": created, "model": model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}],
                    "usage": {"prompt_tokens": 8, "completion_tokens": len(text.split()), "total_tokens": 8 + len(text.split())},
                })
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": model}
            deltas = [{"role": "assistant", "content": ""}] + [{"content": w + " "} for w in text.split()]
            for i, delta in enumerate(deltas + [{}]):
                finish = "stop" if i == len(deltas) else None
                chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler
