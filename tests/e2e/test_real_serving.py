"""Real serving: vLLM (CPU build, own venv) serving tiny random models, behind the Google-container emulator.

Needs ``bash scripts/setup_vllm_venv.sh`` (venv + tiny models); skipped otherwise. Each model's server starts
once per module (~25-70 s each on 2 cores). Assertions are on content (non-empty text, token usage), never on
timings; startup time and RSS are recorded as test properties (``--junitxml``) and printed with ``-s``.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.e2e.google_container import GoogleVllmContainer
from tests.e2e.vllm_server import VllmServer, tiny_model_dir, translate_container_args, venv_problem

_PROBLEM = venv_problem()
pytestmark = pytest.mark.e2e

TIMEOUT = 60  # per HTTP request


def make_png(width: int = 40, height: int = 30, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A solid-colour RGB PNG written with zlib/struct (no Pillow in the main env)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_data_url(**kwargs) -> str:
    return "data:image/png;base64," + base64.b64encode(make_png(**kwargs)).decode()


_RUNNING: list[VllmServer] = []


def _start(name: str, request) -> VllmServer:
    if _PROBLEM:
        pytest.skip(_PROBLEM)  # skips every test that needs a server; the rest still run
    # One server at a time: two vLLM servers on 2 cores just slow each other down.
    while _RUNNING:
        _RUNNING.pop().stop()
    server = VllmServer(tiny_model_dir(name), served_model_name=name)
    request.addfinalizer(server.stop)  # always stopped, even when start() fails half-way
    _RUNNING.append(server)
    server.start(timeout=240)
    print(f"\n[{name}] vLLM ready in {server.startup_seconds:.1f}s, RSS {server.rss_bytes() / 2**20:.0f} MiB")
    return server


@pytest.fixture(scope="module")
def llama(request):
    return _start("tiny-llama", request)


@pytest.fixture(scope="module")
def llama_container(llama):
    with GoogleVllmContainer(llama.base_url, llama.served_model_name) as container:
        yield container


@pytest.fixture(scope="module")
def llava(request):
    return _start("tiny-llava", request)


@pytest.fixture(scope="module")
def llava_container(llava):
    with GoogleVllmContainer(llava.base_url, llava.served_model_name) as container:
        yield container


def generate(container: GoogleVllmContainer, **instance) -> requests.Response:
    return requests.post(container.url + "/generate", json={"instances": [instance]}, timeout=TIMEOUT)


def chat(container: GoogleVllmContainer, body: dict, **kwargs) -> requests.Response:
    return requests.post(
        container.url + "/generate", json={"@requestFormat": "chatCompletions", **body}, timeout=TIMEOUT, **kwargs
    )


def sse_events(resp: requests.Response) -> tuple[list[dict], bool]:
    events, done = [], False
    for line in resp.iter_lines():
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload == b"[DONE]":
            done = True
            break
        events.append(json.loads(payload))
    return events, done


# --- tiny-llama -------------------------------------------------------------------------------------------------


def test_ping(llama, llama_container, record_property):
    record_property("llama_startup_s", round(llama.startup_seconds, 1))
    record_property("llama_rss_mib", round(llama.rss_bytes() / 2**20))
    resp = requests.get(llama_container.url + "/ping", timeout=TIMEOUT)
    assert resp.status_code == 200


def test_generate_prompt_output(llama_container):
    prompt = "Hello, my name is"
    resp = generate(llama_container, prompt=prompt, max_tokens=8, min_tokens=8, temperature=0)
    assert resp.status_code == 200, resp.text
    preds = resp.json()["predictions"]
    assert len(preds) == 1
    head = f"Prompt:\n{prompt}\nOutput:\n"
    assert preds[0].startswith(head)
    assert preds[0][len(head) :].strip()


def test_generate_raw_response_matches_vllm(llama, llama_container):
    prompt = "The capital of France is"
    resp = generate(llama_container, prompt=prompt, max_tokens=8, min_tokens=8, temperature=0, raw_response=True)
    assert resp.status_code == 200, resp.text
    text = resp.json()["predictions"][0]
    assert text.strip() and not text.startswith("Prompt:")
    # Same greedy request straight to vLLM: the container forwards the prompt and sampling params unchanged.
    direct = requests.post(
        llama.base_url + "/v1/completions",
        json={"model": llama.served_model_name, "prompt": prompt, "max_tokens": 8, "min_tokens": 8, "temperature": 0},
        timeout=TIMEOUT,
    ).json()
    assert direct["usage"]["completion_tokens"] == 8
    assert text == direct["choices"][0]["text"]


def test_generate_parameters_and_n(llama_container):
    body = {
        "instances": [{"prompt": "Once upon a time", "n": 2, "raw_response": True}],
        "parameters": {"max_tokens": 5, "min_tokens": 5, "temperature": 1.0, "seed": 7},
    }
    resp = requests.post(llama_container.url + "/generate", json=body, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    preds = resp.json()["predictions"]
    assert len(preds) == 2 and all(p.strip() for p in preds)


def test_generate_stream(llama_container):
    resp = requests.post(
        llama_container.url + "/generate",
        json={"instances": [{"prompt": "Count:", "max_tokens": 6, "min_tokens": 6, "stream": True}]},
        timeout=TIMEOUT,
        stream=True,
    )
    assert resp.status_code == 200
    chunks = [json.loads(line)["predictions"][0] for line in resp.iter_lines() if line]
    assert chunks and chunks[0].startswith("Prompt:\nCount:\nOutput:\n")
    assert "".join(chunks)[len("Prompt:\nCount:\nOutput:\n") :].strip()


def test_generate_errors_pass_through(llama_container):
    resp = generate(llama_container, prompt="x", max_tokens=-1)
    assert resp.status_code == 400
    assert "error" in resp.json()
    resp = requests.post(llama_container.url + "/generate", json={"instances": []}, timeout=TIMEOUT)
    assert resp.status_code == 400
    resp = chat(llama_container, {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]})
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == 404


def test_chat_completions(llama_container):
    resp = chat(
        llama_container,
        {"model": "", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 8, "min_tokens": 8},
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "tiny-llama"
    assert data["choices"][0]["message"]["content"].strip()
    assert data["usage"]["prompt_tokens"] > 0 and data["usage"]["completion_tokens"] == 8


def test_chat_completions_stream(llama_container):
    body = {
        "messages": [{"role": "user", "content": "Tell a story"}],
        "max_tokens": 10,
        "min_tokens": 10,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with chat(llama_container, body, stream=True) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events, done = sse_events(resp)
    assert done
    assert all(e["object"] == "chat.completion.chunk" for e in events)
    text = "".join((c.get("delta") or {}).get("content") or "" for e in events for c in e.get("choices", []))
    assert text.strip()
    usage = [e["usage"] for e in events if e.get("usage")]
    assert usage and usage[-1]["completion_tokens"] == 10


def test_translated_container_args():
    args = translate_container_args(
        [
            "python",
            "-m",
            "vllm.entrypoints.api_server",
            "--host=0.0.0.0",
            "--port=8080",
            "--model=gs://b/m",
            "--tensor-parallel-size=1",
            "--swap-space=16",
            "--gpu-memory-utilization=0.9",
            "--max-model-len=4096",
            "--dtype=auto",
            "--max-num-seqs=12",
            "--enforce-eager",
            "--max-loras=1",
            "--max-cpu-loras=8",
            "--disable-log-stats",
            "--model-type=llama3.1",
        ]
    )
    assert args == [
        "--max-model-len=512",
        "--dtype=float32",
        "--max-num-seqs=12",
        "--enforce-eager",
        "--max-loras=1",
        "--max-cpu-loras=8",
        "--disable-log-stats",
    ]


# --- tiny-llava -------------------------------------------------------------------------------------------------


def test_llava_ping(llava, llava_container, record_property):
    record_property("llava_startup_s", round(llava.startup_seconds, 1))
    record_property("llava_rss_mib", round(llava.rss_bytes() / 2**20))
    assert requests.get(llava_container.url + "/ping", timeout=TIMEOUT).status_code == 200


def test_llava_generate_with_image(llava_container):
    prompt = "<|begin_of_text|><|image|>This is a picture of"
    resp = generate(
        llava_container,
        prompt=prompt,
        multi_modal_data={"image": png_data_url()},
        max_tokens=8,
        min_tokens=8,
        temperature=0,
    )
    assert resp.status_code == 200, resp.text
    pred = resp.json()["predictions"][0]
    head = f"Prompt:\n{prompt}\nOutput:\n"
    assert pred.startswith(head) and pred[len(head) :].strip()


def test_llava_generate_image_from_local_http(llava_container):
    png = make_png(rgb=(20, 180, 60))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cat.png"
        resp = generate(
            llava_container,
            prompt="Describe <image> briefly.",
            multi_modal_data={"image": url},
            max_tokens=6,
            min_tokens=6,
            raw_response=True,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"][0].strip()


def test_llava_refuses_remote_image(llava_container):
    resp = generate(llava_container, prompt="<image>x", multi_modal_data={"image": "https://example.com/a.png"})
    assert resp.status_code == 400


def test_llava_chat_with_image(llava_container):
    text_only = {
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is shown?"}]}],
        "max_tokens": 8,
        "min_tokens": 8,
    }
    with_image = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": png_data_url(rgb=(10, 10, 220))}},
                    {"type": "text", "text": "What is shown?"},
                ],
            }
        ],
        "max_tokens": 8,
        "min_tokens": 8,
    }
    plain = chat(llava_container, text_only)
    image = chat(llava_container, with_image)
    assert plain.status_code == 200 and image.status_code == 200, image.text
    data = image.json()
    assert data["choices"][0]["message"]["content"].strip()
    assert data["usage"]["completion_tokens"] == 8
    # The 32 px image becomes (32/8)^2 = 16 image tokens in the prompt.
    assert data["usage"]["prompt_tokens"] - plain.json()["usage"]["prompt_tokens"] >= 16
