"""The load probe's pure core: figures as ``vllm bench serve`` defines them, SLOs, capacity search."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vllm_vertex.errors import ProbeInputError, SloError
from vllm_vertex.probe import (
    CapacitySearch,
    ProbeSettings,
    RequestRecord,
    StreamTimer,
    gate,
    goodput_limits,
    parse_concurrency,
    parse_slo,
    percentile,
    report,
    requests_for_level,
    settings_for_profile,
    stats_ms,
    summarize_level,
    workload,
)


def test_percentile_and_stats_match_numpy():
    rng = random.Random(7)
    for n in (1, 2, 5, 101):
        xs = [rng.uniform(0.001, 2.0) for _ in range(n)]
        for p in (0, 50, 90, 95, 99, 100):
            assert percentile(xs, p) == pytest.approx(float(np.percentile(xs, p)), rel=1e-12)
        s = stats_ms(xs, "ttft")
        assert s["mean_ttft_ms"] == pytest.approx(np.mean(xs) * 1000)
        assert s["median_ttft_ms"] == pytest.approx(np.median(xs) * 1000)
        assert s["std_ttft_ms"] == pytest.approx(np.std(xs) * 1000)  # population std, as vLLM
        assert s["p99_ttft_ms"] == pytest.approx(np.percentile(xs, 99) * 1000)
    assert set(stats_ms([], "itl").values()) == {None}


def test_stream_timer_times_chunks_as_vllm_does():
    t = StreamTimer(start=10.0)
    t.chunk(10.5, True)  # first chunk with choices: TTFT
    t.chunk(10.6, True)
    t.chunk(10.8, True, finish_reason="length")
    t.chunk(11.9, False, usage={"prompt_tokens": 7, "completion_tokens": 3})  # usage chunk: no time
    rec = t.finish()
    assert rec.success and rec.ttft == pytest.approx(0.5)
    assert rec.itl == pytest.approx([0.1, 0.2])
    assert rec.latency == pytest.approx(0.8)  # to the last token chunk, not the usage chunk
    assert (rec.prompt_tokens, rec.output_tokens) == (7, 3)


def test_stream_timer_fails_a_cut_stream_and_an_empty_one():
    cut = StreamTimer(start=0.0)
    cut.chunk(0.1, True)
    cut.chunk(0.2, True)
    rec = cut.finish()
    assert not rec.success and "no finish_reason" in rec.error
    empty = StreamTimer(start=0.0)
    empty.chunk(0.3, False, usage={"completion_tokens": 0})
    assert not empty.finish().success
    broken = StreamTimer(start=0.0)
    broken.chunk(0.1, True)
    assert broken.fail("connection error: RemoteProtocolError").error.startswith("connection error")


def _rec(ttft, itl, out, prompt=10, ok=True, kind="main", start=0.0, error=""):
    lat = (ttft or 0) + sum(itl)
    return RequestRecord(ok, start, lat if ok else 0.0, ttft, list(itl), prompt, out, error, kind)


def test_level_figures_by_vllm_definitions():
    recs = [
        _rec(0.1, [0.02, 0.03, 0.05], 4),  # E2EL 0.2, TPOT (0.2-0.1)/3
        _rec(0.2, [0.04], 2, prompt=20),  # E2EL 0.24, TPOT 0.04
        _rec(0.3, [], 1),  # one token: no TPOT (0 for goodput)
        _rec(None, [], 0, ok=False, error="HTTP 503: busy"),
    ]
    lv = summarize_level(recs, duration_s=2.0, concurrency=4, goodput_ms={"ttft": 250, "tpot": 41})
    assert (lv["completed"], lv["failed"], lv["num_requests"]) == (3, 1, 4)
    assert lv["error_rate"] == 0.25 and lv["errors"] == {"HTTP 503: busy": 1}
    assert lv["request_throughput"] == pytest.approx(1.5)
    assert lv["output_throughput"] == pytest.approx(7 / 2)
    assert lv["total_token_throughput"] == pytest.approx((40 + 7) / 2)
    assert lv["median_ttft_ms"] == pytest.approx(200)
    tpots = [0.1 / 3, 0.04]
    assert lv["mean_tpot_ms"] == pytest.approx(np.mean(tpots) * 1000)
    assert lv["median_itl_ms"] == pytest.approx(np.median([0.02, 0.03, 0.05, 0.04]) * 1000)  # pooled per chunk
    assert lv["p95_e2el_ms"] == pytest.approx(np.percentile([0.2, 0.24, 0.3], 95) * 1000)
    # goodput: ttft<=0.25 and tpot<=0.041 → first (tpot .033) and second (tpot .04) good; third ttft .3 bad
    assert lv["request_goodput"] == pytest.approx(2 / 2.0)
    assert lv["streaming"] and not lv["ttft_estimated"]


def test_without_streaming_ttft_is_an_estimate_and_tpot_itl_are_not_measured():
    recs = [RequestRecord(True, 0.0, 1.0, None, [], 10, 64) for _ in range(4)]
    recs += [RequestRecord(True, 0.0, lat, None, [], 10, 1, kind="ttft_estimate") for lat in (0.05, 0.07)]
    lv = summarize_level(recs, 2.0, 2, goodput_ms={"ttft": 100, "e2el": 2000}, streaming=False)
    assert lv["ttft_estimated"] and lv["ttft_estimate_requests"] == 2
    assert lv["completed"] == 4  # estimate requests are not counted
    assert lv["median_ttft_ms"] == pytest.approx(60)
    assert lv["median_tpot_ms"] is None and lv["median_itl_ms"] is None
    assert lv["output_throughput"] == pytest.approx(128)
    assert lv["request_goodput"] == pytest.approx(2.0)  # per-request TTFT unknown: e2el only


def test_output_tokens_fall_back_to_chunks_without_usage():
    lv = summarize_level([_rec(0.1, [0.01, 0.01], 0)], 1.0, 1)
    assert lv["total_output_tokens"] == 3


def test_parse_slo_accepts_lists_and_repeats():
    assert parse_slo(["p95_ttft_ms=500, p95_tpot_ms=50", "max_error_rate=0.01"]) == {
        "p95_ttft_ms": 500, "p95_tpot_ms": 50, "max_error_rate": 0.01}
    assert parse_slo("") == {} and parse_slo(None) == {}


@pytest.mark.parametrize(
    "spec, text",
    [
        ("p95_ttft=500", "did you mean p95_ttft_ms"),
        ("latency", "is not key=value"),
        ("p95_ttft_ms=", "is not key=value"),
        ("p95_ttft_ms=fast", "must be a number"),
        ("p95_ttft_ms=-1", ">= 0"),
        ("max_error_rate=5", "fraction between 0 and 1"),
        ("p95_ttft_ms=1,p95_ttft_ms=2", "given twice"),
        ("p95_ttft_ms=nan", "finite"),
    ],
)
def test_parse_slo_refuses_bad_input(spec, text):
    with pytest.raises(SloError, match=text):
        parse_slo(spec)


def test_gate_checks_every_level_and_never_passes_what_was_not_measured():
    lv1 = {"concurrency": 1, "p95_ttft_ms": 100.0, "output_throughput": 50.0, "error_rate": 0.0, "p95_tpot_ms": None}
    lv8 = {"concurrency": 8, "p95_ttft_ms": 900.0, "output_throughput": 300.0, "error_rate": 0.06, "p95_tpot_ms": None}
    g = gate({"p95_ttft_ms": 500, "min_output_throughput": 40}, [lv1, lv8])
    assert not g["passed"] and g["missed"] == ["p95_ttft_ms 900 > 500 at concurrency 8"]
    assert gate({"max_error_rate": 0.05}, [lv1, lv8])["missed"] == ["max_error_rate 0.06 > 0.05 at concurrency 8"]
    assert gate({"p95_tpot_ms": 50}, [lv1])["missed"] == ["p95_tpot_ms not measured at concurrency 1"]
    assert gate({}, [lv8]) == {"passed": True, "gated": False, "thresholds": {}, "checks": [], "missed": []}
    est = gate({"p95_ttft_ms": 50}, [{**lv1, "ttft_estimated": True}])
    assert est["missed"] == ["p95_ttft_ms (estimate) 100 > 50 at concurrency 1"]


def test_goodput_limits_take_the_tightest_per_metric():
    assert goodput_limits({"p95_ttft_ms": 500, "median_ttft_ms": 200, "p99_e2el_ms": 3000, "min_output_throughput": 5,
                           "p95_itl_ms": 30}) == {"ttft": 200, "e2el": 3000}


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _search(knee: int, **kw):
    """Drives the search against a synthetic server that meets the SLO up to ``knee`` concurrent requests."""
    clock = _Clock()
    s = CapacitySearch(num_requests=kw.pop("num_requests", 10), max_requests=kw.pop("max_requests", 100_000),
                       max_seconds=kw.pop("max_seconds", 1e9), clock=clock, **kw)
    tried = []
    while (c := s.next_concurrency()) is not None:
        tried.append(c)
        clock.t += kw.get("step_seconds", 10.0)
        s.record(c, {"concurrency": c, "num_requests": requests_for_level(c, 10), "request_throughput": c * 1.5,
                     "output_throughput": c * 100.0}, c <= knee)
    return s.result(), tried


@pytest.mark.parametrize("knee", [1, 2, 3, 37, 100, 255])
def test_capacity_grows_then_bisects_to_the_knee(knee):
    result, tried = _search(knee)
    assert knee - max(1, knee // 16) <= result["max_concurrency"] <= knee
    assert result["stopped_by"] == "resolution"
    grow = [c for c in tried if c & (c - 1) == 0]
    assert tried[: len(grow)] == [2**i for i in range(len(grow))]  # doubling first
    assert f"one replica serves {result['max_concurrency']} concurrent requests" in result["summary"]
    assert result["output_throughput"] == result["max_concurrency"] * 100.0


def test_capacity_stops_on_budgets_limit_and_a_missed_first_level():
    assert _search(0)[0]["stopped_by"] == "first_level_missed"
    assert _search(0)[0]["max_concurrency"] == 0 and "no concurrency met" in _search(0)[0]["summary"]
    result, _ = _search(10_000, limit=64)
    assert (result["stopped_by"], result["max_concurrency"]) == ("limit", 64)
    result, tried = _search(10_000, max_requests=10 + 10 + 10 + 16)  # 1, 2, 4 (10 each), then 8 needs 16
    assert tried == [1, 2, 4, 8] and result["stopped_by"] == "request_budget"
    result, tried = _search(10_000, max_requests=10 + 10 + 10 + 15)
    assert tried == [1, 2, 4] and result["requests_used"] == 30 and "request budget ran out" in result["summary"]
    result, tried = _search(10_000, max_seconds=35)  # 10 s per level: after 3 the next would pass 35 s
    assert tried == [1, 2, 4] and result["stopped_by"] == "time_budget"
    with pytest.raises(ValueError, match="budget"):
        CapacitySearch(num_requests=10, max_requests=0, max_seconds=10)


def test_settings_validation_names_the_field():
    for kwargs, field in [({"concurrency": (1, 0)}, "concurrency"), ({"concurrency": ()}, "concurrency"),
                          ({"num_requests": 0}, "num_requests"), ({"output_tokens": 0}, "output_tokens"),
                          ({"find_capacity": True, "capacity_max_requests": 0}, "capacity_max_requests"),
                          ({"find_capacity": True, "capacity_max_seconds": 0}, "capacity_max_seconds")]:
        with pytest.raises(ProbeInputError) as err:
            ProbeSettings(**kwargs).validate()
        assert err.value.field == field
    assert parse_concurrency("1, 4,16") == (1, 4, 16)
    for bad in ("1,x", "0", "-4"):
        with pytest.raises(ProbeInputError):
            parse_concurrency(bad)


def test_profiles():
    assert settings_for_profile("off") is None
    quick = settings_for_profile("quick", image_url="http://img")
    assert quick.concurrency == (1, 4) and quick.image_url == "http://img" and not quick.find_capacity
    assert settings_for_profile("capacity").find_capacity
    with pytest.raises(ProbeInputError, match="off, quick, standard or capacity"):
        settings_for_profile("fast")


def test_calibration_fits_the_chat_template_overhead():
    # server counts 2 tokens per word + 12 template tokens
    samples = [(50, 112), (100, 212)]
    assert workload.calibrated_words(256, samples) == 122  # 12 + 2*122 = 256
    assert workload.calibrated_words(64, [(64, 64)]) == 64
    assert workload.calibrated_words(64, []) == 64
    a, b = workload.prompt_words(1, 30), workload.prompt_words(2, 30)
    assert len(a.split()) == 30 and a != b and workload.prompt_words(1, 30) == a


def _result(estimated=False, capacity=False):
    levels = []
    for c in (1, 4):
        recs = [_rec(0.05 * c, [0.01] * 7, 8, start=i) for i in range(6)] + [_rec(None, [], 0, ok=False, error="HTTP 503: x")]
        lv = summarize_level(recs, 3.0, c)
        lv["samples"] = {"ttft_ms": [r.ttft * 1000 for r in recs if r.success], "e2el_ms": [], "itl_ms": []}
        if estimated:
            lv["ttft_estimated"] = True
        levels.append(lv)
    res = {"target": "http://x/v1", "model": "m", "streaming": not estimated, "ttft_estimated": estimated,
           "settings": {"input_tokens": 8, "output_tokens": 8, "num_requests": 7}, "levels": levels,
           "slo": gate({"p95_ttft_ms": 100}, levels)}
    if capacity:
        res["capacity"] = _search(5)[0]
    return res


def test_reports_text_json_metrics_and_self_contained_html():
    res = _result(capacity=True)
    text = report.render_text(res)
    assert "SLO MISSED: p95_ttft_ms 200 > 100 at concurrency 4" in text and "1 × HTTP 503: x" in text
    assert "capacity: one replica serves 5 concurrent requests" in text
    summary = report.summary(res)
    assert "samples" not in summary["levels"][0] and summary["capacity"]["max_concurrency"] == 5
    metrics = report.kfp_metrics(res)
    assert metrics["c4_median_ttft_ms"] == pytest.approx(200) and metrics["slo_passed"] == 0.0
    assert metrics["capacity_max_concurrency"] == 5.0
    page = report.render_html(res)
    assert page.count("<svg") >= 5  # percentiles, per-token, throughput, one TTFT histogram per level
    lowered = page.lower()
    assert "<script" not in lowered and "<link" not in lowered and "src=" not in lowered and "url(" not in lowered
    assert "http://" not in lowered.replace('xmlns="http://www.w3.org/2000/svg"', "").replace("http://x/v1", "")


def test_estimates_are_labelled_everywhere():
    res = _result(estimated=True)
    assert "TTFT p50 ms*" in report.render_text(res) and "estimated from max_tokens=1" in report.render_text(res)
    assert "c1_median_ttft_estimate_ms" in report.kfp_metrics(res) and "c1_median_ttft_ms" not in report.kfp_metrics(res)
    page = report.render_html(res)
    assert "TTFT median (estimate)" in page and "TTFT distribution (estimate)" in page
    assert "p95_ttft_ms (estimate)" in page


@pytest.mark.parametrize(
    "level, noted",
    [
        ({"concurrency": 4, "client_loop_lag_p99_ms": None, "median_ttft_ms": 50.0}, False),
        ({"concurrency": 4, "client_loop_lag_p99_ms": 1.9, "median_ttft_ms": 10.0}, False),  # under 2 ms
        ({"concurrency": 4, "client_loop_lag_p99_ms": 3.0, "median_ttft_ms": 50.0}, True),  # over 2 ms and 5 %
        ({"concurrency": 4, "client_loop_lag_p99_ms": 4.0, "median_ttft_ms": 100.0}, False),  # 5 % of 100 ms
        ({"concurrency": 4, "client_loop_lag_p99_ms": 40.0, "median_ttft_ms": None, "median_e2el_ms": 2000.0}, False),
        ({"concurrency": 256, "client_loop_lag_p99_ms": 120.0, "median_ttft_ms": None, "median_e2el_ms": 900.0}, True),
    ],
)
def test_a_busy_client_is_named_when_its_delay_can_move_the_figures(level, noted):
    from vllm_vertex.probe import client_note

    note = client_note(level)
    assert bool(note) is noted
    if noted:
        assert note.startswith(f"concurrency {level['concurrency']}: the probe's own event loop was up to ")
