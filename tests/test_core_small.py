"""Naming, quota math, payloads, diagnosis and report: the small pure modules."""

import re

import pytest

from vllm_vertex import diagnosis, naming, payloads, quota, report
from vllm_vertex.config import from_preset


def test_run_label_is_a_readable_prefix_plus_a_hash_of_the_whole_name():
    job = "projects/123/locations/us-central1/pipelineJobs/vllm-deploy-and-verify-20261127053000"
    label = naming.run_label_value(job)
    prefix, digest = label.rsplit("-", 1)
    assert prefix == "vllm-deploy-and-verify-20261127053000" and len(digest) == 16
    assert int(digest, 16) >= 0 and label == naming.run_label_value(job)
    long_a = naming.run_label_value("projects/p/locations/r/pipelineJobs/" + "x" * 80 + "-2026-11-27-a")
    long_b = naming.run_label_value("projects/p/locations/r/pipelineJobs/" + "y" * 80 + "-2026-11-27-a")
    for value in (label, long_a, long_b):
        assert re.fullmatch(r"[a-z0-9_-]{1,63}", value), value
    assert long_a != long_b and long_a.startswith("x") and long_a.endswith(long_a[-16:])
    assert naming.run_label_value("Run Name!").startswith("run-name-")
    assert naming.run_label_value("Run Name!") != naming.run_label_value("run-name")  # case and punctuation count


@pytest.mark.parametrize("bad", ["", "  ", "{{$.pipeline_job_resource_name}}"])
def test_run_label_refuses_a_run_without_identity(bad):
    with pytest.raises(ValueError, match="pipeline_job_resource_name"):
        naming.run_label_value(bad)


def test_urls():
    ep = "projects/p/locations/us-central1/endpoints/123"
    assert naming.openai_base_url(ep, "us-central1") == (
        "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/p/locations/us-central1/endpoints/123"
    )
    assert naming.openai_base_url(ep, "us-central1", "1.us-central1-2.prediction.vertexai.goog").startswith(
        "https://1.us-central1-2.prediction.vertexai.goog/v1beta1/"
    )
    assert naming.openai_base_url(ep, "us-central1", "127.0.0.1:9", "http://127.0.0.1:8").startswith(
        "http://127.0.0.1:9/v1beta1/projects/p"
    )
    assert naming.api_base("europe-west4", "http://127.0.0.1:8/") == "http://127.0.0.1:8"
    assert "endpoints/123?project=p" in naming.console_endpoint_url(ep)


@pytest.mark.parametrize(
    ("policy", "state", "clean"),
    [("always", "SUCCEEDED", True), ("on_failure", "SUCCEEDED", False), ("on_failure", "FAILED", True),
     ("on_failure", "CANCELLED", True), ("never", "FAILED", False), ("never", "CANCELLED", False)],
)
def test_exit_handler_policy(policy, state, clean):
    assert naming.should_clean_up(policy, state) is clean


def test_resource_labels_and_filter():
    labels = naming.resource_labels({"team": "ml"}, "run-1")
    assert labels == {"team": "ml", "managed-by": "vllm-vertex", "vllm-vertex-run": "run-1"}
    assert naming.label_filter("run-1") == 'labels.vllm-vertex-run="run-1" AND labels.managed-by="vllm-vertex"'


def test_quota_needs_gpu_and_cpu_times_max_replicas():
    cfg = from_preset("llama-3.1-70b", max_replica_count=2)
    gpu, cpu = quota.needs(cfg)
    assert (gpu.quota_id, gpu.amount) == ("CustomModelServingL4GPUsPerProjectPerRegion", 16)
    assert (cpu.quota_id, cpu.amount) == ("CustomModelServingCPUsPerProjectPerRegion", 192)
    spot = quota.needs(from_preset("llama-3.1-8b", spot=True))[0]
    assert spot.quota_id == "CustomModelServingPreemptibleL4GPUsPerProjectPerRegion"


def test_limit_prefers_region_entry_then_default():
    info = {
        "dimensionsInfos": [
            {"dimensions": {"region": "us-central1"}, "details": {"value": "4"}},
            {"dimensions": {}, "details": {"value": "1"}},
        ]
    }
    assert quota.limit_for_region(info, "us-central1") == 4
    assert quota.limit_for_region(info, "europe-west4") == 1
    assert quota.limit_for_region({"dimensionsInfos": []}, "us-central1") is None


def test_quota_check_message_names_id_need_limit_and_fix():
    cfg = from_preset("llama-3.1-8b", region="us-east4")
    infos = {n.quota_id: {"dimensionsInfos": [{"details": {"value": "0"}}]} for n in quota.needs(cfg)}
    checks = quota.evaluate(cfg, infos)
    assert not checks[0].ok
    msg = checks[0].message("us-east4")
    assert "CustomModelServingL4GPUsPerProjectPerRegion" in msg and "need 1" in msg and "limit 0" in msg
    assert "Request more" in msg
    unlimited = quota.QuotaCheck(checks[0].need, -1)
    assert unlimited.ok


def test_parse_prediction_forms():
    assert payloads.parse_prediction("Prompt:\nWhat is a car?\nOutput:\nA vehicle.") == "A vehicle."
    assert payloads.parse_prediction("A vehicle.", raw_response=True) == "A vehicle."
    assert payloads.parse_prediction({"text": "hi"}) == "hi"
    with pytest.raises(payloads.PredictionFormatError):
        payloads.parse_prediction(42)


def test_instances_and_messages():
    sp = payloads.SamplingParams(max_tokens=8)
    inst = payloads.image_instance("<|image|>x", "http://i/png", sp)
    assert inst["multi_modal_data"] == {"image": "http://i/png"} and inst["max_tokens"] == 8
    assert payloads.text_instance("q", sp, raw_response=True)["raw_response"] is True
    msg = payloads.chat_messages("describe", "data:image/png;base64,xx")[0]
    assert msg["content"][0]["type"] == "image_url" and msg["content"][1] == {"type": "text", "text": "describe"}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.91 GiB.", "cuda_oom"),
        ("OSError: Cannot access gated repository for URL https://huggingface.co/meta-llama/x", "hf_gated"),
        (
            "ValueError: ... default chat template is no longer allowed, so you must provide a chat template",
            "missing_chat_template",
        ),
        (
            "The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in KV cache (2256).",
            "kv_cache_too_small",
        ),
        ("something else entirely", None),
    ],
)
def test_diagnosis(text, key):
    found = diagnosis.diagnose(text)
    assert (found.key if found else None) == key
    if found:
        assert "Fix:" in found.text()


def test_report_verdict_metrics_markdown():
    ok = report.CheckResult("text_predict", ":predict", True, 0.5, answer="A | vehicle", completion_tokens=10)
    bad = report.CheckResult("chat_image", "chat/completions", False, 0.1, error="empty output", image_url="http://i")
    assert report.verdict([ok]) == "passed" and report.verdict([ok, bad]) == "failed" and report.verdict([]) == "failed"
    m = report.metrics([ok, bad])
    assert m["checks_passed"] == 1 and m["checks_failed"] == 1 and m["text_predict_tokens_per_s"] == 20
    md = report.render_markdown([ok, bad], "projects/p/locations/l/endpoints/1", "m")
    assert "FAILED" in md and "A \\| vehicle" in md and "![image sent to the model](http://i)" in md
