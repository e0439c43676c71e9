"""``smoke`` and ``teardown`` against the stand-in (FakeBackend containers) and a plain OpenAI-style server."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli_support import PROJECT, WHERE, deploy, invoke, posts

pytestmark = pytest.mark.timeout(120)


def test_smoke_shared_endpoint_passes_and_writes_the_report(standin, tmp_path):
    endpoint = deploy(standin)
    report = tmp_path / "smoke.md"
    result = invoke(standin, "smoke", "--endpoint", endpoint.name, "--report", str(report))
    assert result.exit_code == 0, result.output
    assert f"checking {endpoint.name} (shared)" in result.output
    assert "text_predict: pass" in result.output and "chat_text: pass" in result.output
    assert "smoke tests passed: 2 of 2 checks passed" in result.output
    text = report.read_text()
    assert text.startswith("# Smoke tests: PASSED") and endpoint.name in text
    assert len(posts(standin, ":predict")) == 1 and len(posts(standin, "/chat/completions")) == 1


def test_smoke_takes_the_endpoint_positionally_as_the_readme_shows(standin):
    endpoint = deploy(standin)
    result = invoke(standin, "smoke", endpoint.name, "--no-chat")
    assert result.exit_code == 0, result.output
    assert f"checking {endpoint.name} (shared)" in result.output and "text_predict: pass" in result.output
    both = invoke(standin, "smoke", endpoint.name, "--endpoint", "123", *WHERE)
    assert both.exit_code == 2 and "two endpoints given" in both.output


def test_smoke_dedicated_endpoint_by_id_with_image_checks(standin):
    endpoint = deploy(standin, dedicated=True, preset="llama-3.2-11b-vision-instruct")
    endpoint_id = endpoint.name.rsplit("/", 1)[-1]
    image = "data:image/png;base64,iVBORw0KGgo="
    result = invoke(standin, "smoke", "--endpoint", endpoint_id, *WHERE, "--image-url", image)
    assert result.exit_code == 0, result.output
    assert "(dedicated)" in result.output
    for check in ("text_predict", "image_predict", "chat_text", "chat_image"):
        assert f"{check}: pass" in result.output
    sent = [body for _, path, body in standin.requests if path.split("?")[0].endswith(":predict")]
    assert any(image in body for body in sent)


def test_smoke_failing_check_exits_1(standin):
    endpoint = deploy(standin)
    standin.faults.add("predict", status=400, times=None, message="bad request")
    result = invoke(standin, "smoke", "--endpoint", endpoint.name, "--no-chat")
    assert result.exit_code == 1
    assert "text_predict: FAIL" in result.output and "smoke tests failed: 0 of 1" in result.output


def test_smoke_missing_endpoint_exits_2(standin):
    result = invoke(standin, "smoke", "--endpoint", "987", *WHERE)
    assert result.exit_code == 2
    assert f"endpoint projects/{PROJECT}/locations/us-central1/endpoints/987 does not exist" in result.output
    assert posts(standin, ":predict") == []


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ([], "exactly one of ENDPOINT"),
        (["--endpoint", "1", "--base-url", "http://127.0.0.1:9/v1"], "exactly one of ENDPOINT"),
        (["1", "--base-url", "http://127.0.0.1:9/v1"], "exactly one of ENDPOINT"),
        (["--endpoint", "123"], "needs the project and region"),
        (["--endpoint", "my-endpoint"], "neither projects/P/locations/L/endpoints/ID"),
    ],
)
def test_smoke_bad_input_exits_2(standin, args, text):
    result = invoke(standin, "smoke", *args)
    assert result.exit_code == 2 and text in result.output
    assert standin.requests == []


@pytest.fixture
def openai_server():
    """A minimal OpenAI-compatible server: /v1/models, /v1/completions, /v1/chat/completions."""
    seen: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, body: dict):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._send({"object": "list", "data": [{"id": "tiny-llama", "object": "model", "owned_by": "me"}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
            common = {"id": "x", "created": 0, "model": body["model"], "usage": usage}
            if self.path.endswith("/chat/completions"):
                message = {"role": "assistant", "content": "a car drives"}
                choice = {"index": 0, "message": message, "finish_reason": "stop"}
                self._send({**common, "object": "chat.completion", "choices": [choice]})
            else:
                choice = {"index": 0, "text": " a vehicle", "finish_reason": "stop"}
                self._send({**common, "object": "text_completion", "choices": [choice]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    server.shutdown()
    server.server_close()


def test_smoke_plain_base_url_runs_completion_and_chat(openai_server, tmp_path):
    url, seen = openai_server
    report = tmp_path / "r.md"
    result = invoke(None, "smoke", "--base-url", url, "--prompt", "What is a car?", "--report", str(report))
    assert result.exit_code == 0, result.output
    assert "text_completion: pass" in result.output and "chat_text: pass" in result.output
    assert "text_predict" not in result.output
    assert [path for path, _ in seen] == ["/v1/completions", "/v1/chat/completions"]
    assert seen[0][1]["model"] == "tiny-llama" and seen[0][1]["prompt"] == "What is a car?"
    assert "| text_completion | /v1/completions | pass |" in report.read_text()


def test_teardown_run_label_lists_asks_and_removes(standin):
    endpoint = deploy(standin, run_label="run-7")
    declined = invoke(standin, "teardown", "--run-label", "run-7", *WHERE, input="n\n")
    assert declined.exit_code == 0 and "nothing removed" in declined.output and "Aborted" not in declined.output
    assert f"  {endpoint.name}" in declined.output and "deployed model" in declined.output
    assert endpoint.name in standin.resources()["endpoints"]

    result = invoke(standin, "teardown", "--run-label", "run-7", *WHERE, "--yes")
    assert result.exit_code == 0, result.output
    assert f"removed {endpoint.name}" in result.output
    assert standin.resources() == {"models": {}, "endpoints": {}, "deployedModels": {}}


def test_teardown_run_label_also_in_the_regions_of_the_placements(standin):
    here, there = deploy(standin, run_label="run-8"), deploy(standin, run_label="run-8", region="europe-west4")
    only_here = invoke(standin, "teardown", "--run-label", "run-8", *WHERE, "--yes")
    assert only_here.exit_code == 0 and list(standin.resources()["endpoints"]) == [there.name]
    result = invoke(standin, "teardown", "--run-label", "run-8", *WHERE, "--also-in", "us-east4,europe-west4", "--yes")
    assert result.exit_code == 0, result.output
    assert "region europe-west4:" in result.output and f"removed {there.name}" in result.output
    assert here.name not in result.output  # gone already: each region is listed afresh
    assert standin.resources() == {"models": {}, "endpoints": {}, "deployedModels": {}}


def test_teardown_nothing_left(standin):
    result = invoke(standin, "teardown", "--run-label", "gone", *WHERE)
    assert result.exit_code == 0 and "nothing to remove" in result.output


def test_teardown_endpoint_removes_the_models_vllm_vertex_uploaded(standin):
    endpoint = deploy(standin)
    model = next(iter(standin.resources()["models"]))
    result = invoke(standin, "teardown", "--endpoint", endpoint.name, input="y\n")
    assert result.exit_code == 0, result.output
    assert f"  {model}" in result.output.split("Delete these?")[0]  # listed before asking
    assert f"removed {model}" in result.output
    assert standin.resources() == {"models": {}, "endpoints": {}, "deployedModels": {}}


def test_teardown_endpoint_keep_models_and_models_made_elsewhere_stay(standin):
    endpoint = deploy(standin)
    ours = next(iter(standin.resources()["models"]))
    result = invoke(standin, "teardown", "--endpoint", endpoint.name, "--keep-models", "--yes")
    assert result.exit_code == 0, result.output
    assert f"keeping {ours} (--keep-models" in result.output
    assert list(standin.resources()["models"]) == [ours] and standin.resources()["endpoints"] == {}

    other = deploy(standin, run_label="run-2")
    theirs = next(m for m in standin.resources()["models"] if m != ours)
    with standin.state.lock:  # as if uploaded by hand: no managed-by label
        del standin.state.models[theirs]["labels"]["managed-by"]
    result = invoke(standin, "teardown", "--endpoint", other.name, "--yes")
    assert result.exit_code == 0, result.output
    assert f"keeping {theirs} (not uploaded by vllm-vertex)" in result.output
    assert theirs in standin.resources()["models"]


def test_teardown_endpoint_declined_removes_nothing(standin):
    endpoint = deploy(standin)
    before = standin.resources()
    result = invoke(standin, "teardown", "--endpoint", endpoint.name, input="n\n")
    assert result.exit_code == 0 and result.output.rstrip().endswith("nothing removed")
    assert standin.resources() == before


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ([], "exactly one of --run-label"),
        (["--run-label", "x"], "--project and --region missing"),
        (["--endpoint", "555", *WHERE], "does not exist"),
        (["--run-label", "x", *WHERE, "--keep-models"], "--keep-models goes with --endpoint"),
        (["--run-label", "x", *WHERE, "--also-in", "us-eats4"], "Did you mean 'us-east4'?"),
        (["--endpoint", "555", *WHERE, "--also-in", "us-east4"], "--also-in goes with --run-label"),
    ],
)
def test_teardown_bad_input_exits_2(standin, args, text):
    result = invoke(standin, "teardown", *args, "--yes")
    assert result.exit_code == 2 and text in result.output
    assert [m for m, _, _ in standin.requests if m in ("POST", "DELETE")] == []


def test_smoke_json_and_the_cost_so_far(standin, tmp_path):
    endpoint = deploy(standin)
    report = tmp_path / "r.md"
    result = invoke(standin, "smoke", endpoint.name, "--no-chat", "--json", "--report", str(report))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # progress on stderr
    assert data["verdict"] == "passed" and data["target"] == endpoint.name and data["report"] == str(report)
    assert [c["name"] for c in data["checks"]] == ["text_predict"] and data["checks"][0]["passed"] is True
    assert data["metrics"]["checks_passed"] == 1 and data["metrics"]["deployed_minutes"] >= 0
    assert "since the deploy began: deployed" in result.stderr
    assert "- Since the deploy began: deployed" in report.read_text()


def test_teardown_json(standin):
    endpoint = deploy(standin, run_label="run-9")
    declined = invoke(standin, "teardown", "--run-label", "run-9", *WHERE, "--json", input="n\n")
    data = json.loads(declined.stdout)
    assert declined.exit_code == 0 and data["declined"] is True and data["removed"] == []
    assert endpoint.name in data["to_delete"]
    done = invoke(standin, "teardown", "--endpoint", endpoint.name, "--yes", "--json")
    data = json.loads(done.stdout)
    assert done.exit_code == 0 and data["failed"] == {} and endpoint.name in data["removed"]
    assert len([n for n in data["removed"] if "/models/" in n]) == 1
