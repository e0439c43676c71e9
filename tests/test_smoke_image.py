"""Preflight checks the smoke image before anything is created: reachable, an image, under the body limit."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fakes.gcs import FakeGcs
from tests.fakes.hf_hub import FakeHub
from vllm_vertex import planner
from vllm_vertex.cloud.preflight import run_preflight
from vllm_vertex.cloud.smoke_image import check_smoke_image
from vllm_vertex.config import from_preset, validate

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


class _Images(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        routes = {"/cat.png": (200, "image/png", PNG), "/page": (200, "text/html; charset=utf-8", b"<html></html>")}
        status, kind, body = routes.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def images():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _cfg(url: str, dedicated: bool = False):
    return validate(from_preset("llama-3.2-11b-vision-instruct", project="my-project", smoke_image_url=url,
                                dedicated_endpoint=dedicated, max_num_seqs=12))


def test_reachable_png_is_fine(images):
    finding, note = check_smoke_image(_cfg(images + "/cat.png"))
    assert finding is None and note == f"smoke image ok: image/png, {len(PNG)} bytes"


@pytest.mark.parametrize(("path", "key", "text"), [
    ("/missing.png", "smoke_image_unreachable", "answered 404"),
    ("/page", "smoke_image_not_an_image", "is text/html, not an image"),
])
def test_unreachable_or_not_an_image_blocks(images, path, key, text):
    finding, _ = check_smoke_image(_cfg(images + path))
    assert finding.key == key and text in finding.cause and "run_image_checks=false" in finding.fix


def _data_url(size: int) -> str:
    raw = PNG + b"\0" * max(0, size - len(PNG))
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def test_inline_image_over_the_shared_limit_blocks_but_fits_a_dedicated_endpoint():
    big = _data_url(1_200_000)  # 1.6 MB once base64-encoded
    finding, _ = check_smoke_image(_cfg(big))
    assert finding.key == "smoke_image_too_large" and "1.5 MB body limit of a shared endpoint" in finding.cause
    assert check_smoke_image(_cfg(big, dedicated=True)) == (None, None)
    assert check_smoke_image(_cfg(_data_url(1_000_000))) == (None, None)  # 1.33 MB base64


def test_inline_image_that_does_not_decode_blocks():
    finding, _ = check_smoke_image(_cfg("data:image/png;base64,@@@not-base64@@@"))
    assert finding.key == "smoke_image_not_an_image"


def test_gcs_image_and_missing_object(google_at):
    with FakeGcs() as gcs:
        google_at(gcs.url)
        gcs.put("gs://bkt/img/cat.png", PNG)
        assert check_smoke_image(_cfg("gs://bkt/img/cat.png"))[0] is None
        finding, _ = check_smoke_image(_cfg("gs://bkt/img/dog.png"))
        assert finding.key == "smoke_image_unreachable" and "answered 404" in finding.cause


def test_unreachable_host_is_a_note_not_a_finding():
    finding, note = check_smoke_image(_cfg("http://127.0.0.1:9/cat.png"))  # discard port: connection refused
    assert finding is None and "smoke image not checked" in note


def test_not_checked_without_image_checks(images):
    cfg = validate(from_preset("llama-3.1-8b-instruct", project="my-project", smoke_image_url=images + "/missing"))
    assert check_smoke_image(cfg) == (None, None)


def test_preflight_blocks_on_the_image_before_anything_is_created(images, google_at):
    model = "meta-llama/Llama-3.2-11B-Vision-Instruct"
    with FakeHub() as hub:
        hub.add(model, {"config.json": planner.shipped_config(model), "tokenizer_config.json": {"chat_template": "t"}})
        google_at(hf=hub.url)
        report = run_preflight(_cfg(images + "/page"))
    assert "smoke_image_not_an_image" in report.error_text() and not report.ok
    assert json.dumps([f.key for f in report.findings]).count("smoke_image") == 1
