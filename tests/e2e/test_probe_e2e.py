"""The pipeline with the load probe on, end to end under kfp.local against the stand-ins and real vLLM.

Text-only on a shared endpoint (no streaming: TTFT estimated), multimodal on a dedicated endpoint
(streamed through the stand-in to vLLM) with some streams cut, and a missed SLO (5 % of chat
requests answered 503, ``max_error_rate=0.01``): the run fails at the probe's gate after the report
is written, and ``on_failure`` cleanup removes everything.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import World, run_pipeline, text_config, vision_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200), pytest.mark.world(reuse_servers=True)]


@pytest.fixture(autouse=True)
def _clean(world):
    world.reset()
    yield
    world.reset()


def _probe_outputs(world: World) -> tuple[dict, str, dict]:
    """The last probe step's metrics (executor output), HTML report and results JSON."""
    root = world.root / "pipeline-root"
    step = sorted(root.rglob("probe/executor_output.json"), key=lambda p: p.stat().st_mtime)[-1].parent
    executor = json.loads((step / "executor_output.json").read_text())
    metrics = next(a for name, a in executor["artifacts"].items() if name == "metrics")["artifacts"][0]["metadata"]
    return metrics, (step / "report").read_text(), json.loads((step / "results").read_text())


def test_text_run_on_a_shared_endpoint_estimates_ttft(world):
    result = run_pipeline(world, text_config("always", probe_profile="quick", probe_slo="max_error_rate=0", max_model_len=2048))
    assert result.status == "SUCCESS", result.error or result.log[-3000:]
    assert world.counts() == (0, 0), "teardown-after-probe removed everything"
    metrics, page, full = _probe_outputs(world)
    assert full["verdict"] == "passed" and full["result"]["ttft_estimated"] is True
    levels = full["result"]["levels"]
    assert [lv["concurrency"] for lv in levels] == [1, 4]
    assert all(lv["completed"] == 16 and lv["failed"] == 0 and lv["total_output_tokens"] == 16 * 64 for lv in levels)
    assert metrics["c4_median_ttft_estimate_ms"] > 0 and metrics["slo_passed"] == 1.0
    assert "c1_median_tpot_ms" not in metrics
    assert "<svg" in page and "(estimate)" in page


def test_multimodal_run_on_a_dedicated_endpoint_streams_and_survives_cut_streams(world):
    world.standin.faults.cut_streams(every=10, after_lines=4)
    result = run_pipeline(world, vision_config("always", dedicated_endpoint=True, probe_profile="quick", max_model_len=2048))
    assert result.status == "SUCCESS", result.error or result.log[-3000:]
    assert world.counts() == (0, 0)
    metrics, page, full = _probe_outputs(world)
    levels = full["result"]["levels"]
    assert full["result"]["streaming"] is True and all(lv["image_requests"] > 0 for lv in levels)
    failed = sum(lv["failed"] for lv in levels)
    assert failed >= 2, "every tenth stream was cut"
    errors = {e for lv in levels for e in lv["errors"]}
    assert errors == {"the stream ended before the response finished (no finish_reason)"}
    assert all(lv["completed"] + lv["failed"] == 16 for lv in levels)
    assert metrics["c1_median_tpot_ms"] > 0 and metrics["c4_median_itl_ms"] > 0
    assert "Failed requests" in page


def test_missed_slo_fails_the_run_after_the_report_and_cleanup_removes_everything(world):
    world.standin.faults.add("chat", 503, times=None, every=20, message="Service unavailable (injected)")
    cfg = text_config("on_failure", dedicated_endpoint=True, probe_profile="quick", probe_slo="max_error_rate=0.01",
                      max_model_len=2048)
    result = run_pipeline(world, cfg)
    assert result.status == "FAILURE", result.log[-3000:]
    assert result.failed_task == "check-probe", result.failed_task
    assert "load probe failed: SLO missed: max_error_rate" in result.error
    assert world.counts() == (0, 0), "on_failure cleanup removed the endpoint and the model"
    metrics, page, full = _probe_outputs(world)
    rates = [lv["error_rate"] for lv in full["result"]["levels"]]
    assert any(rate > 0.01 for rate in rates) and metrics["slo_passed"] == 0.0
    assert "HTTP 503" in page and "SLO MISSED" in page
