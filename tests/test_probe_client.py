"""The probe's client and ``vllm-vertex probe`` against local servers: a timed OpenAI-compatible server and
the Vertex stand-in (shared endpoints cannot stream, dedicated ones can). No timing in assertions."""

from __future__ import annotations

import asyncio
import datetime
import json
import time

import pytest

from tests.cli_support import WHERE, deploy, invoke, posts
from tests.standin import FakeBackend
from tests.standin.chat_stream import ChatTiming, TimedChatServer
from vllm_vertex.cloud.probe import GoogleToken, ProbeTarget, run_probe, vertex_target
from vllm_vertex.probe import ProbeSettings, parse_slo

pytestmark = [pytest.mark.timeout(180),
              pytest.mark.standin(backend=lambda: FakeBackend(chat_timing=ChatTiming(ttft_s=0.002, itl_s=0.001)))]

SMALL = dict(num_requests=8, input_tokens=24, output_tokens=6)


def _chat_posts(server: TimedChatServer) -> list[dict]:
    return list(server.requests)


def test_streamed_probe_counts_what_vllm_counts():
    with TimedChatServer(ChatTiming(ttft_s=0.01, itl_s=0.002)) as s:
        result = run_probe(ProbeTarget(s.base_url, "timed-model"), ProbeSettings(concurrency=(1, 3), **SMALL))
        sent = _chat_posts(s)
    # two calibration requests (max_tokens=1) and one warm-up, none counted; then 8 per level
    assert len(sent) == 3 + 16
    assert [b["max_tokens"] for b in sent[:3]] == [1, 1, 6]
    for body in sent:
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        assert body["ignore_eos"] is True and body["model"] == "timed-model"
    assert s.max_in_flight == 3  # closed loop: never more than the level's concurrency
    for level in result["levels"]:
        assert (level["completed"], level["failed"], level["num_requests"]) == (8, 0, 8)
        assert level["total_output_tokens"] == 8 * 6  # from usage
        assert level["total_input_tokens"] == 8 * 24  # prompt length calibrated on the server's count
        assert len(level["samples"]["ttft_ms"]) == 8 and len(level["samples"]["itl_ms"]) == 8 * 5  # per chunk
        assert level["median_tpot_ms"] is not None and not level["ttft_estimated"]
    assert result["slo"] == {"passed": True, "gated": False, "thresholds": {}, "checks": [], "missed": []}
    prompts = [b["messages"][0]["content"] for b in sent[3:]]
    assert len(set(prompts)) == len(prompts)  # every prompt differs: no prefix-cache shortcut


def test_each_level_opens_its_connections_before_timing_so_no_timed_request_waits_for_a_handshake():
    with TimedChatServer(ChatTiming(itl_s=0.001)) as s:
        run_probe(ProbeTarget(s.base_url, "m"), ProbeSettings(concurrency=(1, 3, 2), **SMALL))
        # calibration and warm-up on one connection; level 3 opened two more; every chat request reused one
        assert s.connections == 3
        assert len(s.served_ttft_s) == 3 + 24


def test_a_client_too_busy_to_keep_up_says_so_in_the_result_and_the_report():
    from vllm_vertex.probe import report

    def slow_terminal(event):  # a progress callback that blocks the event loop for 30 ms per request
        if event.get("phase") == "level":
            time.sleep(0.03)

    with TimedChatServer(ChatTiming(ttft_s=0.005, itl_s=0.001)) as s:
        result = run_probe(ProbeTarget(s.base_url, "m"), ProbeSettings(concurrency=(2,), **SMALL), progress=slow_terminal)
    level = result["levels"][0]
    assert level["client_loop_lag_p99_ms"] >= 20  # the timer cannot fire while the loop is blocked for 30 ms
    assert result["client_notes"] and result["client_notes"][0].startswith("concurrency 2: the probe's own event loop")
    assert "note: concurrency 2: the probe's own event loop" in report.render_text(result)
    assert "Note: concurrency 2: the probe&#x27;s own event loop" in report.render_html(result)


def test_the_environments_proxy_is_read_once_and_no_proxy_is_honoured(monkeypatch):
    from vllm_vertex.cloud.probe import _env_proxy

    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert _env_proxy("https://e.prediction.example/v1/chat/completions") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert _env_proxy("https://e.prediction.example/v1/chat/completions") == "http://proxy.corp:3128"
    assert _env_proxy("http://127.0.0.1:8000/v1/chat/completions") is None  # HTTP_PROXY not set
    monkeypatch.setenv("NO_PROXY", "localhost,.example")
    assert _env_proxy("https://e.prediction.example/v1/chat/completions") is None


@pytest.mark.parametrize(
    "body, text",
    [
        (b'{"error": {"message": "injected 503", "code": 503}}', "HTTP 503: injected 503"),
        (b'[{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]',
         "HTTP 503: The model is overloaded."),
        (b"<html>upstream connect error</html>", "HTTP 503: <html>upstream connect error</html>"),
    ],
)
def test_error_answers_are_named_by_the_servers_message(body, text):
    from vllm_vertex.cloud.probe import _status_text

    assert _status_text(503, body) == text


def test_503s_and_cut_streams_are_failed_requests_reported_and_gated():
    timing = ChatTiming(error_every=5, cut_every=7, cut_after=2)
    with TimedChatServer(timing) as s:
        result = run_probe(
            ProbeTarget(s.base_url, "m"), ProbeSettings(concurrency=(2,), num_requests=30, input_tokens=8, output_tokens=4),
            parse_slo("max_error_rate=0.05"),
        )
    level = result["levels"][0]
    # requests 1-3 were calibration and warm-up: of requests 4..33, 5|n → 6 answered 503, 7|n (not 35) → 4 cut
    assert (level["failed"], level["completed"]) == (10, 20)
    assert level["error_rate"] == pytest.approx(10 / 30)
    errors = level["errors"]
    assert sum(n for e, n in errors.items() if e.startswith("HTTP 503")) == 6
    assert sum(n for e, n in errors.items() if not e.startswith("HTTP 503")) == 4  # the transport names the cut
    assert not result["slo"]["passed"] and result["slo"]["missed"] == ["max_error_rate 0.3333 > 0.05 at concurrency 2"]


def test_level_time_budget_stops_sending():
    with TimedChatServer(ChatTiming(ttft_s=0.3)) as s:
        result = run_probe(ProbeTarget(s.base_url, "m"),
                           ProbeSettings(concurrency=(1,), num_requests=10, input_tokens=4, output_tokens=1, level_seconds=0.1))
    assert result["levels"][0]["num_requests"] == 1  # the first request took longer than the budget


def test_multimodal_probe_sends_image_and_text_requests():
    with TimedChatServer() as s:
        result = run_probe(ProbeTarget(s.base_url, "m"),
                           ProbeSettings(concurrency=(2,), image_url="http://img/cat.png", **SMALL))
        sent = _chat_posts(s)
    with_image = [b for b in sent[3:] if isinstance(b["messages"][0]["content"], list)]
    assert len(with_image) == 4 and result["levels"][0]["image_requests"] == 4
    parts = with_image[0]["messages"][0]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": "http://img/cat.png"}} and parts[1]["type"] == "text"


def test_capacity_search_runs_levels_under_budget():
    with TimedChatServer() as s:
        result = run_probe(
            ProbeTarget(s.base_url, "m"),
            ProbeSettings(concurrency=(1,), num_requests=4, input_tokens=4, output_tokens=2, find_capacity=True,
                          capacity_max_requests=4 + 4 + 8 + 16, capacity_limit=64),
            parse_slo("max_error_rate=0"),
        )
    cap = result["capacity"]
    assert [s["concurrency"] for s in cap["steps"]] == [1, 2, 4, 8]  # 16 would need 32 more requests
    assert cap["stopped_by"] == "request_budget" and cap["max_concurrency"] == 8
    assert cap["requests_used"] == 32


class _Creds:
    def __init__(self, expiry):
        self.token, self.expiry, self.refreshed = "old", expiry, 0

    def refresh(self, request):
        self.refreshed += 1
        self.token, self.expiry = f"new-{self.refreshed}", datetime.datetime(2030, 1, 1, 1, 0)


def test_google_token_refreshes_before_it_expires():
    now = datetime.datetime(2030, 1, 1, 0, 0)
    creds = _Creds(expiry=now + datetime.timedelta(minutes=30))
    token = GoogleToken(creds, now=lambda: now)
    assert asyncio.run(token()) == "old" and creds.refreshed == 0
    now = datetime.datetime(2030, 1, 1, 0, 26)  # 4 minutes left: refresh
    token._now = lambda: now
    assert asyncio.run(token()) == "new-1" and asyncio.run(token()) == "new-1"
    assert token.refreshes == 1


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_json_prints_the_issue_shape(tmp_path):
    html, full = tmp_path / "r.html", tmp_path / "r.json"
    with TimedChatServer(ChatTiming(ttft_s=0.005, itl_s=0.001)) as s:
        result = invoke(None, "probe", "--base-url", s.base_url, "--concurrency", "1,2", "--num-requests", "4",
                        "--input-tokens", "8", "--output-tokens", "3", "--slo", "p99_e2el_ms=60000",
                        "--slo", "max_error_rate=0.5", "--find-capacity", "--capacity-max-requests", "20",
                        "--json", "--html", str(html), "--results", str(full))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [lv["concurrency"] for lv in out["levels"]] == [1, 2]
    for key in ("concurrency", "completed", "failed", "request_throughput", "output_throughput", "mean_ttft_ms",
                "median_ttft_ms", "p95_ttft_ms", "median_tpot_ms", "p95_tpot_ms", "median_itl_ms", "median_e2el_ms",
                "p95_e2el_ms", "p99_itl_ms", "std_e2el_ms", "total_token_throughput", "request_goodput"):
        assert key in out["levels"][0], key
    assert "samples" not in out["levels"][0] and out["model"] == "timed-model"
    assert out["slo"]["passed"] is True and out["slo"]["thresholds"] == {"p99_e2el_ms": 60000, "max_error_rate": 0.5}
    assert isinstance(out["capacity"]["max_concurrency"], int) and out["capacity"]["max_concurrency"] >= 1
    assert "<svg" in html.read_text() and "samples" in json.loads(full.read_text())["levels"][0]


def test_cli_missed_slo_exits_1_with_the_table():
    with TimedChatServer(ChatTiming(error_every=2)) as s:
        result = invoke(None, "probe", "--base-url", s.base_url, "--model", "m", "--concurrency", "2",
                        "--num-requests", "6", "--input-tokens", "4", "--output-tokens", "2", "--slo", "max_error_rate=0.1")
    assert result.exit_code == 1, result.output
    assert "SLO MISSED: max_error_rate 0.5 > 0.1 at concurrency 2" in result.output
    assert "3 × HTTP 503" in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--slo", "p95_ttft=5"], "Error: --slo: unknown SLO key 'p95_ttft': did you mean p95_ttft_ms?"),
        (["--slo", "p95_ttft_ms"], "Error: --slo: 'p95_ttft_ms' is not key=value"),
        (["--concurrency", "1,0"], "Error: --concurrency: concurrency must be 1 or more (got 0)"),
        (["--concurrency", "a"], "Error: --concurrency: 'a' is not a list of whole numbers"),
        (["--num-requests", "0"], "Error: --num-requests: num_requests must be 1 or more"),
        (["--find-capacity"], "Error: --slo: --find-capacity searches under an SLO"),
        (["--find-capacity", "--slo", "p95_ttft_ms=5", "--capacity-max-requests", "0"],
         "Error: --capacity-max-requests: the capacity search needs a request budget above 0"),
        (["--find-capacity", "--slo", "p95_ttft_ms=5", "--capacity-max-seconds", "0"],
         "Error: --capacity-max-seconds: the capacity search needs a time budget above 0 s"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, text):
    with TimedChatServer() as s:
        result = invoke(None, "probe", "--base-url", s.base_url, *args)
        assert s.requests == []
    assert result.exit_code == 2
    assert result.output.strip() == text or result.output.startswith(text), result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_cli_unreachable_base_url_exits_2():
    result = invoke(None, "probe", "--base-url", "http://127.0.0.1:9/v1")
    assert result.exit_code == 2
    assert result.output.startswith("Error: --base-url http://127.0.0.1:9/v1 is not reachable")
    assert len(result.output.strip().splitlines()) == 1


def test_cli_shared_endpoint_estimates_ttft(standin):
    endpoint = deploy(standin)
    result = invoke(standin, "probe", "--endpoint", endpoint.name, "--concurrency", "2", "--num-requests", "8",
                    "--input-tokens", "8", "--output-tokens", "4", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    level = out["levels"][0]
    assert out["streaming"] is False and out["ttft_estimated"] is True and level["ttft_estimated"] is True
    assert level["completed"] == 8 and level["ttft_estimate_requests"] == 2
    assert level["median_ttft_ms"] is not None and level["median_tpot_ms"] is None and level["median_itl_ms"] is None
    assert len(posts(standin, "/chat/completions")) == 3 + 8 + 2


def test_cli_dedicated_endpoint_streams(standin):
    endpoint = deploy(standin, dedicated=True)
    result = invoke(standin, "probe", "--endpoint", endpoint.name, "--concurrency", "2", "--num-requests", "6",
                    "--input-tokens", "8", "--output-tokens", "4", "--json")
    assert result.exit_code == 0, result.output
    level = json.loads(result.output)["levels"][0]
    assert level["streaming"] is True and level["completed"] == 6 and level["total_output_tokens"] == 24
    assert level["median_tpot_ms"] is not None


def test_cli_endpoint_without_model_exits_2(standin, google_at):
    from vllm_vertex.cloud import vertex
    from vllm_vertex.config import from_preset

    endpoint = vertex.create_endpoint(from_preset("llama-3.1-8b-instruct", project="my-project"), "run-1")
    result = invoke(standin, "probe", "--endpoint", endpoint.name)
    assert result.exit_code == 2 and "serves no model: deploy one before checking it" in result.output
    missing = invoke(standin, "probe", "--endpoint", "987", *WHERE)
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_vertex_target_routes(google_at):
    google_at("http://127.0.0.1:1")
    shared = vertex_target("projects/p/locations/us-central1/endpoints/1", "")
    dedicated = vertex_target("projects/p/locations/us-central1/endpoints/1", "dns.example")
    assert not shared.streaming and dedicated.streaming and shared.model == ""


def test_cli_stand_in_faults_cut_streams_and_a_503_rate(standin):
    endpoint = deploy(standin, dedicated=True)
    standin.faults.cut_streams(every=4, after_lines=4)
    standin.faults.add("chat", 503, times=None, every=5)
    result = invoke(standin, "probe", "--endpoint", endpoint.name, "--concurrency", "1", "--num-requests", "20",
                    "--input-tokens", "8", "--output-tokens", "4", "--json", "--slo", "max_error_rate=0.05")
    assert result.exit_code == 1, result.output
    level = json.loads(result.output)["levels"][0]
    errors = level["errors"]
    # chat calls 4..23 are the level's: 503 on 5, 10, 15, 20; of the 16 streams left, every 4th is cut
    assert sum(n for e, n in errors.items() if e.startswith("HTTP 503")) == 4
    assert errors.get("the stream ended before the response finished (no finish_reason)") == 4
    assert (level["completed"], level["failed"]) == (12, 8)
