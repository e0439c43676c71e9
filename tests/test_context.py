"""The client context: one place for the stand-in override, and no real token ever sent to an override URL."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from vllm_vertex.cloud import context
from vllm_vertex.cloud.context import CloudContext, current, using

REAL_TOKEN = "ya29.real-google-token-never-to-leave"
PROJECT, REGION = "my-project", "us-central1"
ENDPOINT = f"projects/{PROJECT}/locations/{REGION}/endpoints/1"


class _Recorder(ThreadingHTTPServer):
    """A loopback server that answers 404 to everything and records each request's Authorization header."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.seen.append((self.path, self.headers.get("Authorization", "")))
                body = json.dumps({"error": {"code": 404, "message": "nothing here", "status": "NOT_FOUND"}}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer  # noqa: N815

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def recorder():
    server = _Recorder()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def real_adc(monkeypatch):
    """Application Default Credentials holding a real-looking token, as after ``auth.check()``; counts reads."""
    import google.auth
    from google.oauth2.credentials import Credentials

    from vllm_vertex.cloud import auth

    creds = Credentials(token=REAL_TOKEN)
    reads = []
    monkeypatch.setattr(auth, "_checked", creds)
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: reads.append(1) or (creds, PROJECT))
    return reads


def _call_every_client() -> None:
    """One request through every kind of client the product builds (each answer is a 404)."""
    from vllm_vertex.cloud import billing_catalog, clients, logs, operations, probe, smoke
    from vllm_vertex.doctor.clients import SetupClient

    calls = [
        lambda: clients.model_client(REGION).get_model(name=f"projects/{PROJECT}/locations/{REGION}/models/1"),
        lambda: clients.endpoint_client(REGION).get_endpoint(name=ENDPOINT),
        lambda: clients.pipeline_client(REGION).get_pipeline_job(name=f"projects/{PROJECT}/locations/{REGION}/pipelineJobs/j"),
        lambda: clients.schedule_client(REGION).get_schedule(name=f"projects/{PROJECT}/locations/{REGION}/schedules/s"),
        lambda: clients.prediction_client(REGION).predict(endpoint=ENDPOINT, instances=[{"prompt": "x"}]),
        lambda: clients.quotas_client().get_quota_info(name=f"projects/{PROJECT}/locations/global/services/s/quotaInfos/q"),
        lambda: clients.secrets_client().get_secret_version(name=f"projects/{PROJECT}/secrets/s/versions/1"),
        lambda: list(billing_catalog.catalog_client().list_services()),
        lambda: current().storage(PROJECT).bucket("b").reload(),
        lambda: logs.container_log(PROJECT, ENDPOINT, "2026-01-01T00:00:00Z"),
        lambda: operations.get_operation(f"{ENDPOINT}/operations/1", REGION),
        lambda: SetupClient(PROJECT).services(["aiplatform.googleapis.com"]),
        lambda: SetupClient(PROJECT).project_number(),
        lambda: smoke._openai(smoke.SmokeTarget(endpoint_name=ENDPOINT))[0].models.list(),
    ]
    for call in calls:
        with pytest.raises(Exception):  # noqa: B017 - every answer is a 404, whatever each client makes of it
            call()
    target = probe.vertex_target(ENDPOINT)
    assert target.api_key == "anonymous"


def test_with_an_override_no_real_token_reaches_the_override_url(recorder, real_adc, google_at):
    google_at(recorder.url)
    assert current().overridden and current().access_token() == "anonymous"
    _call_every_client()
    assert len(recorder.seen) >= 14, recorder.seen  # every call did reach the override
    leaked = [(path, header) for path, header in recorder.seen if REAL_TOKEN in header]
    assert leaked == []
    assert real_adc == []  # Application Default Credentials were never even read


def test_without_an_override_the_same_clients_would_carry_the_token(recorder, real_adc):
    """The check above can fail: pointed at the recorder by client options alone, a client sends the real token."""
    from google.cloud import aiplatform_v1

    client = aiplatform_v1.EndpointServiceClient(credentials=CloudContext().credentials(), transport="rest",
                                                 client_options={"api_endpoint": recorder.url})
    with pytest.raises(Exception):  # noqa: B017 - the 404, whatever its class
        client.get_endpoint(name=ENDPOINT)
    assert any(REAL_TOKEN in header for _, header in recorder.seen)


def test_the_environment_is_read_in_one_place_and_using_wins_in_its_block(monkeypatch):
    monkeypatch.delenv(context.API_ENDPOINT_ENV, raising=False)
    monkeypatch.delenv(context.HF_ENDPOINT_ENV, raising=False)
    assert current() == CloudContext()
    monkeypatch.setenv(context.API_ENDPOINT_ENV, "http://127.0.0.1:8")
    monkeypatch.setenv(context.HF_ENDPOINT_ENV, "http://127.0.0.1:9")
    assert current() == CloudContext("http://127.0.0.1:8", "http://127.0.0.1:9")
    assert current() is current()  # built once for a given environment
    with using(CloudContext("http://127.0.0.1:7")) as inner:
        assert current() is inner and not current().hf_endpoint
        seen = []
        thread = threading.Thread(target=lambda: seen.append(current()))
        thread.start()
        thread.join()
        assert seen == [CloudContext("http://127.0.0.1:8", "http://127.0.0.1:9")]  # another thread: its own
    assert current().api_endpoint == "http://127.0.0.1:8"


def test_client_options_reach_google_without_an_override():
    real = CloudContext()
    assert real.client_options(REGION) == {"api_endpoint": "us-central1-aiplatform.googleapis.com"}
    assert real.client_options() is None  # global services: the library's own endpoint
    assert real.client_options(REGION, dedicated_dns="1.us-central1-2.prediction.vertexai.goog") == {
        "api_endpoint": "https://1.us-central1-2.prediction.vertexai.goog"
    }
    assert real.base(REGION) == "https://us-central1-aiplatform.googleapis.com"
    assert not real.overridden
    local = CloudContext("http://127.0.0.1:8/")
    assert local.client_options(REGION) == local.client_options() == {"api_endpoint": "http://127.0.0.1:8"}
    assert local.resource_uri(ENDPOINT, REGION) == f"http://127.0.0.1:8/v1/{ENDPOINT}"
