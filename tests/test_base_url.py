"""``smoke --base-url`` and ``probe --base-url`` alike: a dead URL is one line and exit 2, a URL without ``/v1`` is
fixed (and said), the model picked is said and named in the smoke report."""

from __future__ import annotations

import json

import pytest

from tests.cli_support import invoke
from tests.fakes.json_http import JsonHandler, serving
from tests.fakes.oauth import closed_port


@pytest.fixture
def v1_server():
    """An OpenAI-compatible server that answers only under /v1 (404 elsewhere), as vLLM does."""

    class Handler(JsonHandler):
        def do_GET(self):
            if self.path.rstrip("/") != "/v1/models":
                return self.send_json(404, {"detail": "Not Found"})
            self.send_json(200, {"object": "list", "data": [{"id": "tiny-llama", "object": "model", "owned_by": "me"}]})

        def do_POST(self):
            body = self.read_json()
            if not self.path.startswith("/v1/"):
                return self.send_json(404, {"detail": "Not Found"})
            common = {"id": "x", "created": 0, "model": body["model"],
                      "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
            if self.path == "/v1/chat/completions":
                choice = {"index": 0, "message": {"role": "assistant", "content": "a car drives"}, "finish_reason": "stop"}
                return self.send_json(200, {**common, "object": "chat.completion", "choices": [choice]})
            choice = {"index": 0, "text": " a vehicle", "finish_reason": "stop"}
            self.send_json(200, {**common, "object": "text_completion", "choices": [choice]})

    with serving(Handler) as url:
        yield url


@pytest.mark.parametrize("command", [["smoke"], ["probe", "--concurrency", "1", "--num-requests", "2"]])
def test_a_dead_url_is_one_line_and_exit_2(command):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    result = invoke(None, *command, "--base-url", url)
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: --base-url {url} is not reachable (ConnectError): start the server or " \
                                     "fix the URL (it ends in /v1 for vLLM)."


def test_smoke_adds_the_missing_v1_and_names_the_model_it_picked(v1_server, tmp_path):
    report = tmp_path / "r.md"
    result = invoke(None, "smoke", "--base-url", v1_server, "--report", str(report))
    assert result.exit_code == 0, result.output
    assert f"note: {v1_server} has no /models but {v1_server}/v1 has: using {v1_server}/v1" in result.stderr
    assert f"model: tiny-llama (the first {v1_server}/v1 serves; --model to choose)" in result.output
    assert "text_completion: pass" in result.output and "chat_text: pass" in result.output
    text = report.read_text()
    assert "tiny-llama" in text and "(not given)" not in text


def test_probe_adds_the_missing_v1_too():
    from tests.standin.chat_stream import TimedChatServer

    with TimedChatServer() as server:  # streams, under /v1 only
        bare = server.base_url.removesuffix("/v1")
        result = invoke(None, "probe", "--base-url", bare, "--concurrency", "1", "--num-requests", "2",
                        "--input-tokens", "8", "--output-tokens", "2", "--json")
    assert result.exit_code == 0, result.output
    assert f"using {bare}/v1" in result.stderr
    assert json.loads(result.stdout)["levels"][0]["completed"] == 2


def test_a_url_that_is_no_openai_server_says_so(v1_server):
    result = invoke(None, "smoke", "--base-url", v1_server + "/api")
    assert result.exit_code == 2
    assert f"neither {v1_server}/api/models nor {v1_server}/api/v1/models exists" in result.output
