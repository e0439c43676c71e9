"""The pipeline's probe step and its gate: ``python_func`` with real artifacts against the stand-in."""

from __future__ import annotations

import json

import pytest
from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint
from kfp.dsl import HTML, Artifact, Metrics

import components as c
from tests.standin import FakeBackend, VertexStandin
from tests.standin.chat_stream import ChatTiming
from tests.steps import place
from vllm_vertex.config import ConfigError, from_preset, validate

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.standin(backend=lambda: FakeBackend(chat_timing=ChatTiming(ttft_s=0.002, itl_s=0.0005)))]
PROJECT, RUN = "my-proj", "run-under-test"


def _cfg(preset="llama-3.1-8b-instruct", **kw) -> str:
    return from_preset(preset, project=PROJECT, deploy_timeout_seconds=30, **kw).to_json()


def _deployed(s: VertexStandin, cfg: str) -> VertexEndpoint:
    return place(cfg, RUN).endpoint


def _probe(standin, endpoint, cfg, tmp_path, smoke_verdict="passed"):
    metrics = Metrics(name="metrics", uri="", metadata={})
    report, results = HTML(name="report", uri="", metadata={}), Artifact(name="results", uri="", metadata={})
    report.path, results.path = str(tmp_path / "probe.html"), str(tmp_path / "probe.json")
    out = c.probe.python_func(config=cfg, endpoint=endpoint, smoke_verdict=smoke_verdict, metrics=metrics,
                              report=report, results=results)
    return out, metrics.metadata, (tmp_path / "probe.html").read_text(), json.loads((tmp_path / "probe.json").read_text())


def test_quick_profile_on_a_dedicated_endpoint_streams_and_passes(standin, tmp_path):
    cfg = _cfg(dedicated_endpoint=True, probe_profile="quick", probe_slo="max_error_rate=0,p99_e2el_ms=60000")
    out, metrics, page, full = _probe(standin, _deployed(standin, cfg), cfg, tmp_path)
    assert out.verdict == "passed" and out.summary == "SLO met"
    levels = full["result"]["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 4] and all(lv["completed"] == 16 for lv in levels)
    assert all(lv["total_output_tokens"] == 16 * 64 and lv["streaming"] for lv in levels)
    assert {"c1_median_ttft_ms", "c4_p95_tpot_ms", "c4_output_throughput", "c1_error_rate"} <= set(metrics)
    assert metrics["slo_passed"] == 1.0
    assert "<svg" in page and "SLO met" in page
    c.check_probe.python_func(verdict=out.verdict, summary=out.summary)


def test_missed_slo_writes_the_report_then_the_gate_fails(standin, tmp_path):
    standin.backend.chat_timing.error_every = 20  # 5 % of requests answered 503
    cfg = _cfg(probe_profile="quick", probe_slo="max_error_rate=0.01")
    out, metrics, page, full = _probe(standin, _deployed(standin, cfg), cfg, tmp_path)
    assert out.verdict == "failed" and out.summary.startswith("SLO missed: max_error_rate")
    failed = sum(lv["failed"] for lv in full["result"]["levels"])
    assert failed >= 1 and metrics["slo_passed"] == 0.0
    assert "SLO MISSED" in page and "HTTP 500" in page  # the stand-in passes the container's 503 on as a 500
    with pytest.raises(RuntimeError, match="load probe failed: SLO missed: max_error_rate"):
        c.check_probe.python_func(verdict=out.verdict, summary=out.summary)


def test_shared_endpoint_labels_the_ttft_estimate(standin, tmp_path):
    cfg = _cfg(probe_profile="quick")
    out, metrics, page, full = _probe(standin, _deployed(standin, cfg), cfg, tmp_path)
    assert out.verdict == "passed" and out.summary == "measured (no SLO given)"
    assert full["result"]["ttft_estimated"] and "c1_median_ttft_estimate_ms" in metrics
    assert "c1_median_tpot_ms" not in metrics and "(estimate)" in page


def test_multimodal_probe_sends_image_requests(standin, tmp_path):
    cfg = _cfg("llama-3.2-11b-vision-instruct", dedicated_endpoint=True, probe_profile="quick",
               smoke_image_url="data:image/png;base64,AAAA")
    out, _, _, full = _probe(standin, _deployed(standin, cfg), cfg, tmp_path)
    assert out.verdict == "passed" and all(lv["image_requests"] == 8 for lv in full["result"]["levels"])


def test_skipped_when_off_or_when_the_smoke_tests_failed(standin, tmp_path):
    cfg = _cfg()
    endpoint = _deployed(standin, cfg)
    out, metrics, page, _ = _probe(standin, endpoint, cfg, tmp_path)
    assert (out.verdict, metrics) == ("skipped", {}) and "probe_profile is off" in page
    on = _cfg(probe_profile="quick")
    out, _, page, _ = _probe(standin, endpoint, on, tmp_path, smoke_verdict="failed")
    assert out.verdict == "skipped" and "smoke tests failed" in page
    c.check_probe.python_func(verdict=out.verdict, summary=out.summary)
    assert not [p for m, p, b in standin.requests if "chat/completions" in p]


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"probe_profile": "fast"}, "probe_profile: 'fast' is unknown; use off, quick, standard, capacity."),
        ({"probe_slo": "p95_ttft=5"}, "probe_slo: unknown SLO key 'p95_ttft': did you mean p95_ttft_ms?"),
        ({"probe_profile": "capacity"}, "probe_slo: the capacity profile searches under an SLO"),
    ],
)
def test_probe_parameters_are_validated(kw, text):
    with pytest.raises(ConfigError) as err:
        validate(from_preset("llama-3.1-8b-instruct", project=PROJECT, **kw))
    assert text in str(err.value)
