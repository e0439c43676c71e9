"""Emulator of the HTTP contract of Google's vLLM serving container (``pytorch-vllm-serve``), in front of a real
vLLM OpenAI server. Importable from the MAIN environment (stdlib + ``requests``).

Routes (what Vertex AI calls on a deployed model with predict route ``/generate`` and health route ``/ping``):

``GET /ping``
    200 ``{"status": "ok"}`` when vLLM's ``/health`` answers 200, else 503.

``POST /generate`` with ``{"instances": [{...}], "parameters": {...}?}`` (Vertex predict format)
    Only ``instances[0]`` is used, as in Google's container. From it ``prompt``, ``stream``, ``raw_response``,
    ``multi_modal_data`` and ``dynamic-lora`` are popped; every other key (``max_tokens``, ``temperature``,
    ``top_p``, ``top_k``, ``n``, ``stop``, ``min_tokens``, ``ignore_eos``, ...) is passed on as a sampling
    parameter. Keys of a Vertex ``parameters`` object are merged in underneath the instance's own keys.
    Answer: ``{"predictions": ["Prompt:\\n{prompt}\\nOutput:\\n{text}"]}`` (one entry per generated sequence),
    or ``{"predictions": ["{text}"]}`` when ``raw_response`` is true.

    * Text only: sent to vLLM ``/v1/completions`` with the prompt unchanged (no chat template).
    * ``multi_modal_data: {"image": URL}``: vLLM 0.32's ``/v1/completions`` takes no images, so the request goes
      to ``/v1/chat/completions`` as one user message whose content parts follow the prompt: the prompt is split
      at image placeholders (``<|image|>`` -- Mllama's, as in Google's Llama 3.2 Vision samples --,
      ``<image>``, ``<|image_pad|>``, ``<start_of_image>``); each placeholder becomes an ``image_url`` part
      (the image is used once: one image per prompt) and the text between them ``text`` parts. Without a
      placeholder the image goes first. Llama-3 framing tokens (``<|begin_of_text|>``, ``<|start_header_id|>``
      ... ``<|eot_id|>``) are stripped because the model's own chat template adds its framing, and vLLM inserts
      the model's real placeholder tokens (e.g. LLaVA's 16x ``<image>``). So the model sees a chat-formatted
      prompt, not the raw one: output text differs from what a raw-prompt engine would produce, the response
      shape does not. ``Prompt:`` echoes the prompt as received.
    * Image URLs: ``data:`` URLs are passed through; ``http(s)://127.0.0.1|localhost`` URLs are fetched here and
      sent as ``data:`` URLs; other URLs (internet, ``gs://``) are refused with 400 (the test machine has no
      network).
    * ``stream: true``: a chunked ``application/x-ndjson`` response, one ``{"predictions": ["<delta>"]}`` line
      per vLLM stream chunk (text only). Google's exact streaming framing for ``/generate`` is not documented;
      Vertex's own streaming goes through chat completions.
    * ``dynamic-lora`` (per-request LoRA in Google's container) is not emulated: 400.

``POST /generate`` with ``"@requestFormat": "chatCompletions"``
    How Vertex forwards ``.../endpoints/E/chat/completions`` to the predict route. The key is removed and the rest
    is sent to vLLM ``/v1/chat/completions`` (``model`` set to the served model when empty or missing; local
    image URLs converted as above). vLLM's JSON comes back unchanged; with ``"stream": true`` the SSE bytes are
    relayed unchanged as they arrive.

``POST /v1/chat/completions``, ``POST /v1/completions``, ``GET /v1/models``
    Relayed to vLLM unchanged (convenience for rawPredict-style tests).

Errors: a vLLM 4xx/5xx comes back with the same status and vLLM's JSON error body (wrapped as
``{"error": {...}}`` when it was not JSON); vLLM unreachable -> 503; a malformed request -> 400.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 120
MAX_BODY_BYTES = 16 * 1024 * 1024
IMAGE_PLACEHOLDERS = ("<|image|>", "<image>", "<|image_pad|>", "<start_of_image>")
_PLACEHOLDER_RE = re.compile("|".join(re.escape(p) for p in IMAGE_PLACEHOLDERS))
_LLAMA3_FRAMING_RE = re.compile(r"<\|begin_of_text\|>|<\|eot_id\|>|<\|start_header_id\|>\w*<\|end_header_id\|>\n*")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ContainerError(Exception):
    """An error answered to the client: HTTP status + JSON body."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error": {"message": message, "code": status}}


def _vllm_error(resp: requests.Response) -> ContainerError:
    try:
        body = resp.json()
    except ValueError:
        body = {"error": {"message": resp.text[:2000], "code": resp.status_code}}
    message = body.get("error", {}).get("message", "") if isinstance(body, dict) else str(body)
    return ContainerError(resp.status_code, message or f"vLLM answered {resp.status_code}", body)


def resolve_image_url(url: str) -> str:
    """``data:`` URLs unchanged; local http(s) URLs fetched and turned into ``data:`` URLs; others refused."""
    if not isinstance(url, str) or not url:
        raise ContainerError(400, "multi_modal_data.image must be a non-empty URL string")
    if url.startswith("data:"):
        return url
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("http", "https") and parsed.hostname in _LOCAL_HOSTS:
        try:
            resp = requests.get(url, timeout=(CONNECT_TIMEOUT, 30))
        except requests.RequestException as exc:
            raise ContainerError(400, f"cannot fetch image {url}: {exc}") from exc
        if resp.status_code != 200:
            raise ContainerError(400, f"cannot fetch image {url}: HTTP {resp.status_code}")
        mime = resp.headers.get("content-type", "").split(";")[0].strip() or "image/png"
        return f"data:{mime};base64,{base64.b64encode(resp.content).decode()}"
    raise ContainerError(400, f"image URL not reachable offline (only data: and local http URLs): {url[:100]}")


def prompt_to_content(prompt: str, image_url: str) -> list[dict]:
    """Split a raw prompt at image placeholders into OpenAI chat content parts (see module docstring)."""
    text = _LLAMA3_FRAMING_RE.sub("", prompt)
    pieces = _PLACEHOLDER_RE.split(text)
    image_part = {"type": "image_url", "image_url": {"url": image_url}}
    parts: list[dict] = []
    if len(pieces) == 1:  # no placeholder: image first
        parts.append(image_part)
        if pieces[0]:
            parts.append({"type": "text", "text": pieces[0]})
        return parts
    for i, piece in enumerate(pieces):
        if i == 1:
            parts.append(image_part)  # one image per prompt; further placeholders are dropped
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


def _convert_chat_images(messages: Any) -> None:
    """Turn local http(s) image URLs inside chat messages into data: URLs, in place."""
    if not isinstance(messages, list):
        return
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                if isinstance(image, dict) and isinstance(image.get("url"), str):
                    image["url"] = resolve_image_url(image["url"])
                elif isinstance(image, str):
                    part["image_url"] = {"url": resolve_image_url(image)}


class GoogleVllmContainer:
    """HTTP server on 127.0.0.1 speaking the contract of Google's vLLM container, backed by a vLLM OpenAI server.

    ``GoogleVllmContainer(vllm_base_url, served_model_name, *, port=None)``; ``.start()`` -> self; ``.url``
    (``http://127.0.0.1:PORT``); ``.stop()``; context manager. Request threads are daemons; every call to vLLM has
    a connect timeout of 5 s and a read timeout of 120 s. ``.requests_seen`` counts handled requests by route.
    """

    def __init__(self, vllm_base_url: str, served_model_name: str, *, port: int | None = None) -> None:
        self.vllm_base_url = vllm_base_url.rstrip("/")
        self.served_model_name = served_model_name
        self._port = port or 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests_seen: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("container not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GoogleVllmContainer:
        if self._server is not None:
            return self
        handler = type("Handler", (_Handler,), {"container": self})
        server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="google-vllm-container", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GoogleVllmContainer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _count(self, route: str) -> None:
        with self._lock:
            self.requests_seen[route] = self.requests_seen.get(route, 0) + 1

    # -- calls to vLLM
    def vllm_healthy(self) -> bool:
        try:
            return requests.get(self.vllm_base_url + "/health", timeout=(CONNECT_TIMEOUT, 5)).status_code == 200
        except requests.RequestException:
            return False

    def post_vllm(self, path: str, body: dict, *, stream: bool = False) -> requests.Response:
        try:
            resp = requests.post(
                self.vllm_base_url + path, json=body, stream=stream, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
            )
        except requests.RequestException as exc:
            raise ContainerError(503, f"vLLM server unreachable: {exc}") from exc
        if resp.status_code >= 400:
            err = _vllm_error(resp)
            resp.close()
            raise err
        return resp

    # -- /generate
    def generate_request(self, body: dict) -> tuple[str, dict, dict]:
        """Translate a Vertex predict body to (vLLM path, vLLM body, meta) -- meta has prompt/raw_response/stream."""
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
            raise ContainerError(400, 'body must be {"instances": [{"prompt": ...}, ...]}')
        instance = dict(body.get("parameters") or {}) if isinstance(body.get("parameters"), dict) else {}
        instance.update(instances[0])
        if "prompt" not in instance or not isinstance(instance["prompt"], str):
            raise ContainerError(400, "instances[0].prompt (a string) is required")
        prompt = instance.pop("prompt")
        stream = bool(instance.pop("stream", False))
        raw_response = bool(instance.pop("raw_response", False))
        mm = instance.pop("multi_modal_data", None)
        if instance.pop("dynamic-lora", None):
            raise ContainerError(400, "dynamic-lora is not supported by this emulator")
        instance.pop("model", None)
        params = instance  # the rest: sampling parameters
        meta = {"prompt": prompt, "raw_response": raw_response, "stream": stream}
        if mm:
            if not isinstance(mm, dict) or "image" not in mm:
                raise ContainerError(400, 'multi_modal_data must be {"image": URL}')
            image = mm["image"]
            if isinstance(image, list):
                if len(image) != 1:
                    raise ContainerError(400, "one image per prompt")
                image = image[0]
            content = prompt_to_content(prompt, resolve_image_url(image))
            vbody = {"model": self.served_model_name, "messages": [{"role": "user", "content": content}], **params}
            return "/v1/chat/completions", vbody, meta
        return "/v1/completions", {"model": self.served_model_name, "prompt": prompt, **params}, meta

    @staticmethod
    def texts_from(path: str, data: dict) -> list[str]:
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        if path == "/v1/chat/completions":
            return [(c.get("message") or {}).get("content") or "" for c in choices]
        return [c.get("text") or "" for c in choices]

    @staticmethod
    def format_prediction(prompt: str, text: str, raw_response: bool) -> str:
        return text if raw_response else f"Prompt:\n{prompt}\nOutput:\n{text}"

    # -- chat
    def chat_body(self, body: dict) -> dict:
        out = {k: v for k, v in body.items() if k != "@requestFormat"}
        if not out.get("model"):
            out["model"] = self.served_model_name
        _convert_chat_images(out.get("messages"))
        return out


class _Handler(BaseHTTPRequestHandler):
    container: GoogleVllmContainer  # set on the subclass made in start()
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT  # socket timeout for reading the request

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep the test output quiet
        pass

    # -- responses
    def _send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ContainerError(413, f"body larger than {MAX_BODY_BYTES} bytes")
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise ContainerError(400, f"invalid JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise ContainerError(400, "JSON body must be an object")
        return body

    # -- routes
    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        c = self.container
        if path in ("/ping", "/health"):
            c._count("ping")
            if c.vllm_healthy():
                self._send_json(200, {"status": "ok"})
            else:
                self._send_json(503, {"error": {"message": "vLLM server not healthy", "code": 503}})
        elif path == "/v1/models":
            c._count("models")
            try:
                resp = requests.get(c.vllm_base_url + path, timeout=(CONNECT_TIMEOUT, 10))
                self._send_json(resp.status_code, resp.json())
            except (requests.RequestException, ValueError) as exc:
                self._send_json(503, {"error": {"message": str(exc), "code": 503}})
        else:
            self._send_json(404, {"error": {"message": f"no route GET {path}", "code": 404}})

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        try:
            body = self._read_json()
            if path == "/generate":
                if body.get("@requestFormat") == "chatCompletions":
                    self.container._count("chat")
                    self._relay("/v1/chat/completions", self.container.chat_body(body))
                else:
                    self.container._count("generate")
                    self._generate(body)
            elif path in ("/v1/chat/completions", "/v1/completions"):
                self.container._count(path)
                if path == "/v1/chat/completions":
                    body = self.container.chat_body(body)
                elif not body.get("model"):
                    body["model"] = self.container.served_model_name
                self._relay(path, body)
            else:
                raise ContainerError(404, f"no route POST {path}")
        except ContainerError as err:
            self._send_json(err.status, err.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - answer 500 rather than drop the connection
            try:
                self._send_json(500, {"error": {"message": f"{type(exc).__name__}: {exc}", "code": 500}})
            except OSError:
                pass

    def _relay(self, vllm_path: str, body: dict) -> None:
        """Send body to vLLM and relay the answer unchanged (JSON, or SSE bytes when streaming)."""
        stream = bool(body.get("stream"))
        resp = self.container.post_vllm(vllm_path, body, stream=stream)
        with resp:
            if not stream:
                data = resp.content
                self.send_response(resp.status_code)
                self.send_header("Content-Type", resp.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self._start_chunked(resp.headers.get("content-type", "text/event-stream"))
            for chunk in resp.iter_content(chunk_size=None):
                self._chunk(chunk)
            self._end_chunked()

    def _generate(self, body: dict) -> None:
        c = self.container
        vllm_path, vbody, meta = c.generate_request(body)
        if not meta["stream"]:
            resp = c.post_vllm(vllm_path, vbody)
            with resp:
                try:
                    data = resp.json()
                except ValueError as exc:
                    raise ContainerError(502, f"vLLM answered non-JSON: {resp.text[:200]}") from exc
            texts = c.texts_from(vllm_path, data)
            predictions = [c.format_prediction(meta["prompt"], t, meta["raw_response"]) for t in texts]
            self._send_json(200, {"predictions": predictions})
            return
        vbody["stream"] = True
        resp = c.post_vllm(vllm_path, vbody, stream=True)
        with resp:
            self._start_chunked("application/x-ndjson")
            first = True
            for line in resp.iter_lines():
                if not line or not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                try:
                    event = json.loads(payload)
                except ValueError:
                    continue
                for choice in event.get("choices") or []:
                    delta = choice.get("text")
                    if delta is None:
                        delta = (choice.get("delta") or {}).get("content")
                    if not delta:
                        continue
                    if first and not meta["raw_response"]:
                        delta = f"Prompt:\n{meta['prompt']}\nOutput:\n{delta}"
                    first = False
                    self._chunk(json.dumps({"predictions": [delta]}).encode() + b"\n")
            self._end_chunked()


def wait_until_ready(container: GoogleVllmContainer, timeout: float = 30) -> bool:
    """Poll ``/ping`` until 200 or timeout; True when ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(container.url + "/ping", timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False
