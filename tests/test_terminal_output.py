"""No control character from a server reaches the terminal: everything the CLI prints is escaped (issue 17, item 6)."""

import io
import json
import re
import sys

import pytest

from tests.cli_support import invoke
from tests.fakes.json_http import JsonHandler, serving
from vllm_vertex.commands import _output

pytestmark = pytest.mark.timeout(120)

HOSTILE = "boom \x1b]0;pwned\x07\x1b[2J\x00\x9b2J \u202eevil"
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


@pytest.fixture
def hostile_server():
    body = json.dumps({"error": {"message": HOSTILE, "code": 500}}, ensure_ascii=False).encode()

    class Handler(JsonHandler):
        def do_GET(self):
            self.send_json(200, {"data": [{"id": "m"}]})

        def do_POST(self):
            self.read_json()
            self.send_json(500, body)

    with serving(Handler) as url:
        yield f"{url}/v1"


def test_probe_error_line_from_a_hostile_server_is_escaped(hostile_server):
    result = invoke(None, "probe", "--base-url", hostile_server, "--concurrency", "1", "--num-requests", "2",
                    "--input-tokens", "4", "--output-tokens", "2")  # fmt: skip
    assert result.exit_code == 1 and "HTTP 500" in result.output
    assert not CONTROLS.search(result.output), repr(result.output)
    assert "\\x1b]0;pwned\\x07" in result.output  # shown, escaped


def test_safe_stream_escapes_what_click_leaves_on_a_terminal_and_masks():
    raw = io.StringIO()
    stream = _output.SafeStream(raw)
    stream.write(f"error: {HOSTILE} hf_{'Ab1' * 8}\n")
    stream.write("\rprogress 3/8")  # a progress line redrawn in place keeps its leading carriage return
    text = raw.getvalue()
    assert "\\x1b[2J" in text and "\\x9b" in text and "\\u202e" in text and "hf_****" in text
    assert not CONTROLS.search(text.replace("\rprogress", "progress"))
    assert text.endswith("\rprogress 3/8") and "\n" in text
    with pytest.raises(TypeError):
        stream.write(b"bytes")  # click then treats it as a text stream


def test_install_wraps_stdout_and_stderr_once(monkeypatch):
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    _output.install()
    _output.install()
    assert isinstance(sys.stdout, _output.SafeStream) and sys.stdout.wrapped is out
    assert isinstance(sys.stderr, _output.SafeStream) and sys.stderr.wrapped is err
    print("title \x1b]0;x\x07")
    assert out.getvalue() == "title \\x1b]0;x\\x07\n"
