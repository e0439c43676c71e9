"""Each component's ``python_func`` with real KFP artifacts, its official clients pointed at the
local stand-ins (Vertex AI, Cloud Quotas, Secret Manager, the Hub) that speak the real wire
protocols, and the openai SDK against the stand-in's chat route."""

from __future__ import annotations

import json
import os
import pathlib
from unittest import mock

import pytest
from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint, VertexModel
from kfp.dsl import Markdown, Metrics

import components as c
from tests.fakes.hf_hub import FakeHub
from tests.standin import VertexStandin
from tests.steps import place
from vllm_vertex import naming, planner
from vllm_vertex.cloud.context import HF_ENDPOINT_ENV, CloudContext
from vllm_vertex.cloud.quotas import QuotaError
from vllm_vertex.cloud.vertex import DeployError
from vllm_vertex.config import ConfigError, from_preset

PROJECT = "my-proj"
TOKEN = "hf_PLANTED_token_0123456789abcdef"
SECRET = f"projects/{PROJECT}/secrets/hf-token/versions/latest"
TEXT_ID = "meta-llama/Meta-Llama-3.1-8B-Instruct"
VISION_ID = "meta-llama/Llama-3.2-11B-Vision-Instruct"
JOB = f"projects/{PROJECT}/locations/us-central1/pipelineJobs/run-under-test"
RUN = naming.run_label_value(JOB)
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.standin(
        quotas={
            "CustomModelServingL4GPUsPerProjectPerRegion": 8,
            "CustomModelServingA100GPUsPerProjectPerRegion": 1,
            "CustomModelServingPreemptibleL4GPUsPerProjectPerRegion": 0,
            "CustomModelServingCPUsPerProjectPerRegion": 200,
        },
        secrets={"projects/my-proj/secrets/hf-token": TOKEN},
    ),
]


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as hub:
        for mid in (TEXT_ID, VISION_ID):
            hub.add(
                mid,
                {"config.json": planner.shipped_config(mid), "tokenizer_config.json": {"chat_template": "t"}},
                gated="manual",
                allowed_tokens={TOKEN},
            )
        hub.add(
            "meta-llama/Meta-Llama-3.1-8B",
            {"config.json": planner.shipped_config(TEXT_ID), "tokenizer_config.json": {}},
        )
        yield hub


def _cfg(preset="llama-3.1-8b-instruct", **kw) -> str:
    kw.setdefault("hf_token_secret", SECRET)
    return from_preset(preset, project=PROJECT, deploy_timeout_seconds=30, **kw).to_json()


def _model(s: VertexStandin, cfg: str) -> VertexModel:
    return place(cfg, RUN).model


def _endpoint(s: VertexStandin, cfg: str) -> VertexEndpoint:
    return place(cfg, RUN).endpoint


def _deployed(s: VertexStandin, cfg: str) -> VertexEndpoint:
    return place(cfg, RUN).endpoint


# validate-config ---------------------------------------------------------------------------------------


def _validate_args(**kw) -> dict:
    cfg = json.loads(from_preset("llama-3.1-8b-instruct", project=PROJECT).to_json())
    cfg["location"] = cfg.pop("region")
    cfg.update(kw)
    return cfg


def test_validate_emits_config_and_run_label():
    job = "projects/123/locations/us-central1/pipelineJobs/Vllm-Deploy 2026"
    out = c.validate_config.python_func(**_validate_args(), job_resource_name=job)
    assert json.loads(out.config)["model_id"] == TEXT_ID and out.run_label == naming.run_label_value(job)
    assert out.run_label.startswith("vllm-deploy-2026-")


def test_validate_rejects_console_input_with_every_problem():
    with pytest.raises(ConfigError) as info:
        c.validate_config.python_func(
            **_validate_args(gpu_memory_utilization=1.5, teardown_policy="x", location="mars"), job_resource_name="r"
        )
    assert {"gpu_memory_utilization", "teardown_policy", "region"} <= dict(info.value.problems).keys()


# check-quota -------------------------------------------------------------------------------------------


def test_quota_ok(standin):
    lines = c.check_quota.python_func(config=_cfg())
    assert "CustomModelServingL4GPUsPerProjectPerRegion in us-central1: need 1" in lines
    assert all(line.endswith("— ok") for line in lines.splitlines()), lines


def test_quota_below_need_names_id_limit_need_and_fix(standin):
    with pytest.raises(QuotaError) as info:
        c.check_quota.python_func(config=_cfg("llama-3.1-8b-instruct", max_replica_count=9))
    text = str(info.value)
    assert "CustomModelServingL4GPUsPerProjectPerRegion" in text and "need 9" in text and "limit 8" in text
    assert "Request more" in text


def test_quota_region_entry_overrides_default_and_spot_uses_preemptible(standin):
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0, region="us-central1")
    with pytest.raises(QuotaError, match="limit 0"):
        c.check_quota.python_func(config=_cfg())
    with pytest.raises(QuotaError, match="CustomModelServingPreemptibleL4GPUsPerProjectPerRegion"):
        c.check_quota.python_func(config=_cfg(region="europe-west4", spot=True))


# preflight ---------------------------------------------------------------------------------------------


def _preflight(standin, hub, tmp_path, cfg: str) -> str:
    report = Markdown(name="report", uri="", metadata={})
    report.path = str(tmp_path / "preflight.md")
    try:
        with mock.patch.dict(os.environ, {HF_ENDPOINT_ENV: hub.url}):
            return c.preflight.python_func(config=cfg, report=report)
    finally:
        assert pathlib.Path(report.path).exists()


def test_preflight_ok_writes_report(standin, hub, tmp_path):
    assert _preflight(standin, hub, tmp_path, _cfg()) == "ok"
    text = (tmp_path / "preflight.md").read_text()
    assert "Preflight: OK" in text and "KV cache capacity (tokens)" in text and TOKEN not in text


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (dict(hf_token_secret=""), "hf_gated"),
        (dict(max_model_len=131072), "kv_cache_too_small"),
        (dict(model_id="meta-llama/Nope"), "hf_not_found"),
    ],
)
def test_preflight_predicts_failures(standin, hub, tmp_path, overrides, key):
    with pytest.raises(RuntimeError, match=key):
        _preflight(standin, hub, tmp_path, _cfg(**overrides))
    assert "WILL FAIL" in (tmp_path / "preflight.md").read_text()
    assert standin.resources()["models"] == {}


def test_preflight_missing_chat_template(standin, hub, tmp_path):
    with pytest.raises(RuntimeError, match="missing_chat_template"):
        _preflight(standin, hub, tmp_path, _cfg("llama-3.1-8b", run_chat_checks=True, hf_token_secret=""))
    assert _preflight(standin, hub, tmp_path, _cfg("llama-3.1-8b", hf_token_secret="")) == "ok"


def test_preflight_vision_profile_risk(standin, hub, tmp_path):
    with pytest.raises(RuntimeError, match="multimodal_profile_risk"):
        _preflight(standin, hub, tmp_path, _cfg("llama-3.2-11b-vision-instruct", max_num_seqs=256))
    assert _preflight(standin, hub, tmp_path, _cfg("llama-3.2-11b-vision-instruct")) == "ok"


def test_preflight_at_risk_warns_or_blocks(standin, hub, tmp_path):
    from vllm_vertex import preflight as core
    from vllm_vertex.config import DeploymentConfig

    probe = core.evaluate(DeploymentConfig.from_json(_cfg()), planner.load_model_config("llama-3.1-8b"), "offline")
    edge = probe.plan.kv_cache_tokens - 16  # inside the predicted cache, above the band's low end
    assert _preflight(standin, hub, tmp_path, _cfg(max_model_len=edge)) == "at_risk"
    text = (tmp_path / "preflight.md").read_text()
    assert "capacity at risk" in text and "`at_risk`" in text
    with pytest.raises(RuntimeError, match="at_risk"):
        _preflight(standin, hub, tmp_path, _cfg(max_model_len=edge, block_on_plan_risk=True))
    assert standin.resources()["models"] == {}


# place-and-deploy: upload ----------------------------------------------------------------------------------------


def _uploaded_spec(standin) -> dict:
    body = next(json.loads(b) for m, p, b in standin.requests if p.split("?")[0].endswith("models:upload"))
    return body["model"]["containerSpec"]


def test_upload_sets_artifact_and_full_container_spec(standin, capsys):
    model = _model(standin, _cfg())
    assert model.metadata["resourceName"].endswith("@1") and model.uri.endswith(model.metadata["resourceName"])
    spec = _uploaded_spec(standin)
    assert "--max-num-seqs=256" in spec["args"] and spec["predictRoute"] == "/generate"
    assert {"name": "HF_TOKEN", "value": TOKEN} in spec["env"]
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err and "read from Secret Manager" in out.out
    labels = next(iter(standin.resources()["models"].values()))["labels"]
    assert labels["vllm-vertex-run"] == RUN


def test_upload_without_secret_has_no_token(standin):
    _model(standin, _cfg(hf_token_secret=""))
    assert all(e["name"] != "HF_TOKEN" for e in _uploaded_spec(standin)["env"])


def test_upload_missing_secret_says_how_to_fix(standin):
    with pytest.raises(RuntimeError, match="does not exist. Create it or fix hf_token_secret"):
        _model(standin, _cfg(hf_token_secret=f"projects/{PROJECT}/secrets/absent/versions/1"))


def test_upload_500_is_not_retried_and_429_is(standin):
    standin.faults.add("upload", status=500)
    with pytest.raises(Exception, match="500"):
        _model(standin, _cfg())
    standin.faults.add("upload", status=429)
    assert _model(standin, _cfg()).metadata["resourceName"]
    assert len(standin.resources()["models"]) == 1


# place-and-deploy: endpoint ------------------------------------------------------------------------------------


def test_shared_and_dedicated_endpoints(standin):
    shared = _endpoint(standin, _cfg())
    assert shared.metadata["resourceName"].startswith("projects/") and shared.metadata["dedicatedEndpointDns"] == ""
    dedicated = _endpoint(standin, _cfg(dedicated_endpoint=True))
    assert dedicated.metadata["dedicatedEndpointDns"] == standin.dedicated_dns


# place-and-deploy: deploy ----------------------------------------------------------------------------------------


def test_deploy_success_prints_stages(standin, capsys):
    endpoint = _deployed(standin, _cfg())
    out = capsys.readouterr().out
    assert "deploy: done" in out and "deploying" in out
    [ep] = standin.resources()["endpoints"].values()
    assert ep["deployedModels"] and endpoint.metadata["resourceName"] in standin.resources()["endpoints"]


@pytest.mark.parametrize(
    ("log_text", "cause"),
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.91 GiB.", "lower max_num_seqs"),
        ("Cannot access gated repository for URL https://huggingface.co/meta-llama/x", "accept the model's license"),
        ("ValueError: Cannot use chat template functions because tokenizer.chat_template is not set",
         "set chat_template (vLLM --chat-template)"),
        (
            "The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in KV "
            "cache (2256). Try increasing `gpu_memory_utilization`",
            "lower max_model_len",
        ),
    ],
)
def test_deploy_error_fails_with_vertex_text_and_root_cause(standin, log_text, cause):
    standin.faults.deploy_error(log_text)
    with pytest.raises(DeployError) as info:
        _deployed(standin, _cfg())
    assert log_text[:40] in str(info.value) and "Root cause:" in str(info.value) and cause in str(info.value)


def test_generic_deploy_error_is_diagnosed_from_the_container_log(standin):
    standin.faults.deploy_error(
        "Model server never became ready. Please validate that your model file or container configuration are valid.",
        container_log="INFO 11-27 loading weights\n[rank0]: torch.OutOfMemoryError: CUDA out of memory. Tried to "
        "allocate 3.91 GiB.\nINFO 11-27 shutting down",
    )
    with pytest.raises(DeployError) as info:
        _deployed(standin, _cfg())
    text = str(info.value)
    assert "Model server never became ready" in text and "Root cause: the GPU ran out of memory" in text
    assert "Container log: [rank0]: torch.OutOfMemoryError" in text


STOCKOUT = "Machine type temporarily unavailable, please deploy with a different machine type or retry."


def test_stockout_suggests_region_spot_or_reservation_and_says_quota_was_not_the_cause(standin):
    standin.faults.deploy_error(STOCKOUT, code=8)  # RESOURCE_EXHAUSTED
    with pytest.raises(DeployError) as info:
        _deployed(standin, _cfg())
    text = str(info.value)
    assert STOCKOUT in text and "a stockout" in text
    assert "another region" in text and "spot: true" in text and "reservation" in text
    assert "Quota was not the cause: CustomModelServingL4GPUsPerProjectPerRegion in us-central1: need 1" in text
    assert "limit 8" in text and "container" not in text.lower()  # not pointed at the container logs


def test_resource_exhausted_on_quota_says_quota_is_the_cause(standin):
    standin.faults.deploy_error(
        "The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus",
        code=8,
    )
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0)  # lowered after check-quota ran
    with pytest.raises(DeployError) as info:
        _deployed(standin, _cfg())
    text = str(info.value)
    assert "Root cause: the deploy needs more GPUs" in text and "request a quota increase" in text
    assert "Quota is the cause: CustomModelServingL4GPUsPerProjectPerRegion in us-central1: need 1" in text


def test_resource_exhausted_on_quota_with_limits_that_cover_it_points_at_other_deployments(standin):
    standin.faults.deploy_error(
        "The following quota metrics exceed quota limits: aiplatform.googleapis.com/custom_model_serving_nvidia_l4_gpus",
        code=8,
    )
    with pytest.raises(DeployError) as info:
        _deployed(standin, _cfg())
    text = str(info.value)
    assert "The limits cover this deployment alone" in text and "other deployments in the region" in text
    assert "Quota was not the cause" not in text


def test_stockout_when_quota_cannot_be_read_says_so(standin):
    standin.faults.deploy_error("RESOURCE_EXHAUSTED: no capacity", code=8)
    standin.faults.add("quota", status=403, times=None, message="Permission denied on quota.")
    with pytest.raises(DeployError) as info:
        _deployed(standin, _cfg())
    assert "a stockout" in str(info.value) and "Whether quota was the cause could not be checked" in str(info.value)


def test_deploy_timeout_cancels_the_operation(standin):
    standin.faults.deploy_hang()
    with pytest.raises(DeployError, match="did not finish within 10 s"):
        cfg = json.loads(_cfg())
        cfg["deploy_timeout_seconds"] = 10
        _deployed(standin, json.dumps(cfg))
    assert standin.resources()["deployedModels"] == {}


# smoke-test --------------------------------------------------------------------------------------------


def _smoke(standin, endpoint, cfg, tmp_path):
    metrics = Metrics(name="metrics", uri="", metadata={})
    report = Markdown(name="report", uri="", metadata={})
    report.path = str(tmp_path / "smoke.md")
    out = c.smoke_test.python_func(
        config=cfg, endpoint=endpoint, metrics=metrics, report=report
    )
    return out, metrics.metadata, (tmp_path / "smoke.md").read_text()


def test_smoke_text_model_passes(standin, tmp_path):
    cfg = _cfg()
    out, metrics, report = _smoke(standin, _deployed(standin, cfg), cfg, tmp_path)
    assert (out.verdict, out.passed, out.failed) == ("passed", 2, 0)
    assert metrics["checks_passed"] == 2 and "text_predict_latency_s" in metrics
    assert "Smoke tests: PASSED" in report and "You said" in report
    assert 0 <= metrics["deployed_minutes"] < 5 and metrics["usd_per_hour"] == pytest.approx(1.1505)  # the estimate
    assert "- Since the deploy began: deployed " in report
    assert "× $1.15/h (estimate: Compute Engine × 1.15, https://github.com/Cyclenerd/" in report  # kind and source


def test_smoke_metrics_carry_the_estimated_gpu_cost(standin, tmp_path, monkeypatch):
    from vllm_vertex import pricing

    row = pricing.HourlyPrice("g2-standard-12", "NVIDIA_L4", 1, 3.6, "https://example.test/p", "2026-11-27")
    monkeypatch.setitem(pricing.PRICES, "g2-standard-12", row)
    cfg = _cfg()
    _, metrics, report = _smoke(standin, _deployed(standin, cfg), cfg, tmp_path)
    assert metrics["usd_per_hour"] == 3.6
    assert metrics["estimated_gpu_cost_usd"] == pytest.approx(3.6 * metrics["deployed_minutes"] / 60, abs=0.001)
    assert "× $3.60/h (table, https://example.test/p) ≈" in report


def test_smoke_multimodal_on_dedicated_endpoint(standin, tmp_path):
    cfg = _cfg("llama-3.2-11b-vision-instruct", dedicated_endpoint=True, smoke_image_url="data:image/png;base64,AAAA")
    out, _, report = _smoke(standin, _deployed(standin, cfg), cfg, tmp_path)
    assert (out.verdict, out.passed) == ("passed", 4)
    assert "image_predict" in report and "chat_image" in report
    predicts = [p for m, p, b in standin.requests if ":predict" in p and "multi_modal_data" in b]
    assert predicts, "the image check goes through the predict route"


def test_smoke_retries_503_then_passes(standin, tmp_path):
    cfg = _cfg()
    endpoint = _deployed(standin, cfg)
    standin.faults.add("predict", status=503, times=3)
    out, _, _ = _smoke(standin, endpoint, cfg, tmp_path)
    assert out.verdict == "passed"


def test_smoke_empty_output_and_chat_500_fail(standin, tmp_path, virtual_clock):
    cfg = _cfg()
    endpoint = _deployed(standin, cfg)
    standin.faults.predict_output("")
    standin.faults.add("chat", status=500, times=None)
    out, metrics, report = _smoke(standin, endpoint, cfg, tmp_path)
    assert (out.verdict, out.failed) == ("failed", 2)
    # the 500 was tried again, as the openai SDK would, but waiting by vllm_vertex.clock (virtual time)
    assert len([p for m, p, _ in standin.requests if "chat/completions" in p]) > 1 and virtual_clock.slept
    assert "empty output" in report and "InternalServerError" in report
    assert metrics["checks_failed"] == 2
    assert out.failures == (
        "text_predict, chat_text failed (2 of 2 checks); first error, text_predict (:predict): "
        "empty output: the model generated no text"
    )


def test_smoke_single_401_on_chat_gets_a_fresh_token(standin, tmp_path, monkeypatch):
    cfg = _cfg()
    endpoint = _deployed(standin, cfg)
    tokens = []
    monkeypatch.setattr(CloudContext, "access_token", lambda *_: tokens.append(1) or f"tok-{len(tokens)}")
    standin.faults.add("chat", status=401, times=1, message="Request had invalid authentication credentials.")
    out, _, _ = _smoke(standin, endpoint, cfg, tmp_path)
    assert out.verdict == "passed" and len(tokens) == 2
    assert len([p for m, p, _ in standin.requests if "chat/completions" in p]) == 2


def test_smoke_401_twice_on_chat_fails_that_check_saying_so(standin, tmp_path):
    cfg = _cfg()
    endpoint = _deployed(standin, cfg)
    standin.faults.add("chat", status=401, times=2, message="Request had invalid authentication credentials.")
    out, _, report = _smoke(standin, endpoint, cfg, tmp_path)
    assert (out.verdict, out.failed) == ("failed", 1) and "401 twice" in report
    assert out.failures.startswith("chat_text failed (1 of 2 checks); first error, chat_text")


def test_smoke_single_401_on_predict_is_refreshed_by_google_auth(standin, tmp_path, monkeypatch):
    """The predict route's session (google-auth) refreshes its credentials on a 401 and resends."""
    import datetime

    from google.oauth2.credentials import Credentials

    cfg = _cfg()
    endpoint = _deployed(standin, cfg)
    refreshed = []

    def handler(request, scopes):
        refreshed.append(scopes)
        return f"fresh-{len(refreshed)}", datetime.datetime.utcnow() + datetime.timedelta(hours=1)

    creds = Credentials(token="stale", refresh_handler=handler)
    monkeypatch.setattr(CloudContext, "credentials", lambda *_: creds)
    standin.faults.add("predict", status=401, times=1, message="Request had invalid authentication credentials.")
    out, _, _ = _smoke(standin, endpoint, cfg, tmp_path)
    assert out.verdict == "passed" and len(refreshed) == 1


# teardown, cleanup, gate --------------------------------------------------------------------------------


def test_teardown_removes_everything_and_is_idempotent(standin):
    _deployed(standin, _cfg())
    summary = c.teardown.python_func(project=PROJECT, location="us-central1", placements=[], run_label=RUN)
    assert "removed" in summary
    assert standin.resources() == {"models": {}, "endpoints": {}, "deployedModels": {}}
    again = c.teardown.python_func(project=PROJECT, location="us-central1", placements=[], run_label=RUN)
    assert again == "nothing to remove"


class _Status:
    def __init__(self, state: str):
        self.state, self.error_message = state, "" if state == "SUCCEEDED" else "Task failed."


@pytest.mark.parametrize(
    ("policy", "state", "left"),
    [
        ("always", "SUCCEEDED", 0),
        ("on_failure", "SUCCEEDED", 1),
        ("on_failure", "FAILED", 0),
        ("on_failure", "CANCELLED", 0),
        ("never", "FAILED", 1),
    ],
)
def test_cleanup_on_exit_follows_policy(standin, policy, state, left):
    _deployed(standin, _cfg())
    c.cleanup_on_exit.python_func(
        project=PROJECT,
        location="us-central1",
        placements=[],
        job_resource_name=JOB,
        teardown_policy=policy,
        status=_Status(state),
    )
    assert len(standin.resources()["endpoints"]) == left and len(standin.resources()["models"]) == left


def test_check_verdict_gate_names_the_failing_checks_and_the_first_error():
    c.check_verdict.python_func(verdict="passed", passed=3, failed=0, failures="")
    failures = "chat_text, chat_image failed (2 of 4 checks); first error, chat_text (chat/completions): boom"
    with pytest.raises(RuntimeError) as info:
        c.check_verdict.python_func(verdict="failed", passed=2, failed=2, failures=failures)
    assert str(info.value).startswith("smoke tests failed: chat_text, chat_image failed (2 of 4 checks)")
    assert "first error, chat_text (chat/completions): boom" in str(info.value)
    with pytest.raises(RuntimeError, match="1 of 3 checks"):  # an older smoke step without the summary
        c.check_verdict.python_func(verdict="failed", passed=2, failed=1)


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"labels": {"team": 7}}, "labels", "Key 'team' has int 7"),
        ({"labels": {"team": None}}, "labels", "Key 'team' has NoneType None"),
        ({"extra_vllm_args": ["--enable-foo", 8192]}, "extra_vllm_args", "Item 1 is int 8192"),
        ({"extra_vllm_args": [{"max-num-seqs": 8}]}, "extra_vllm_args", "Item 0 is dict"),
        ({"labels": ["team"]}, "labels", "must be a mapping of strings to strings, got list"),
        ({"max_model_len": "4096"}, "max_model_len", "must be an integer, got str '4096'"),
        ({"spot": None}, "spot", "has no value"),
    ],
)
def test_validate_names_the_field_of_a_wrong_console_type(changes, field, text):
    with pytest.raises(ConfigError) as info:
        c.validate_config.python_func(**_validate_args(**changes), job_resource_name="r")
    assert text in dict(info.value.problems)[field]


def test_validate_takes_whole_floats_for_integers_from_the_console():
    out = c.validate_config.python_func(**_validate_args(max_model_len=2048.0, gpu_memory_utilization=1), job_resource_name="r")
    cfg = json.loads(out.config)
    assert cfg["max_model_len"] == 2048 and isinstance(cfg["max_model_len"], int)
    assert cfg["gpu_memory_utilization"] == 1.0


# place-and-deploy across placements (issue 21) ---------------------------------------------------------

LADDER = [{"region": "us-central1"}, {"region": "us-east4"}, {"region": "europe-west4"}]


def _everywhere(standin) -> dict:
    """Every endpoint and model left, by region."""
    left = {}
    for kind in ("endpoints", "models"):
        for name in standin.resources()[kind]:
            left.setdefault(name.split("/")[3], []).append(name)
    return left


def test_a_stockout_in_the_first_region_cleans_it_and_lands_in_the_second(standin, capsys):
    standin.faults.stockout(region="us-central1")
    placed = place(_cfg(placements=LADDER), RUN)
    assert placed.endpoint.metadata["resourceName"].split("/")[3] == "us-east4"
    assert "/locations/us-east4/" in placed.endpoint.uri and "/locations/us-east4/" in placed.model.uri
    attempts = json.loads(placed.outputs.attempts)
    assert [(a["candidate"], a["region"], a["outcome"]) for a in attempts] == [(1, "us-central1", "stockout"),
                                                                               (2, "us-east4", "deployed")]
    assert "Machine type temporarily unavailable" in attempts[0]["error"]
    assert json.loads(placed.outputs.placement)["region"] == "us-east4"
    assert placed.metrics.metadata["placement_attempts"] == 2 and placed.metrics.metadata["placement_used"] == 2
    assert list(_everywhere(standin)) == ["us-east4"]  # nothing of the first attempt is left
    assert "removing what it created in us-central1" in capsys.readouterr().out


def test_stockouts_everywhere_fail_naming_every_attempt_and_leave_nothing(standin):
    standin.faults.stockout()
    with pytest.raises(DeployError) as info:
        place(_cfg(placements=LADDER), RUN)
    text = str(info.value)
    assert "No placement had GPUs" in text
    for i, region in enumerate(("us-central1", "us-east4", "europe-west4"), start=1):
        assert f"- {i}. {region} g2-standard-12 1× NVIDIA_L4: stockout" in text
    assert _everywhere(standin) == {}


def test_a_spot_stockout_falls_back_to_on_demand_and_machine_stockouts_to_another_shape(standin):
    standin.set_quota("CustomModelServingPreemptibleL4GPUsPerProjectPerRegion", 8)
    standin.faults.stockout(spot=True)
    standin.faults.stockout(machine_type="g2-standard-12")
    placed = place(_cfg(spot=True, placements=[{}, {"spot": False}, {"machine_type": "g2-standard-24",
                                                                      "spot": False}]), RUN)
    outcomes = [a["outcome"] for a in json.loads(placed.outputs.attempts)]
    assert outcomes == ["stockout", "stockout", "deployed"]
    assert json.loads(placed.outputs.placement)["machine_type"] == "g2-standard-24"


def test_a_permanent_403_in_the_middle_stops_the_walk(standin):
    standin.faults.stockout(region="us-central1")
    standin.faults.add("create_endpoint", status=403, times=1, every=2, message="Permission denied on endpoints.create")
    with pytest.raises(DeployError) as info:
        place(_cfg(placements=LADDER), RUN)
    text = str(info.value)
    assert "Stopped at a permanent error: the remaining placements were not tried" in text
    assert "- 2. us-east4 g2-standard-12 1× NVIDIA_L4: failed" in text and "europe-west4" not in text
    assert "403 Permission denied on endpoints.create" in text
    assert not any("/locations/europe-west4/" in p for _, p, _ in standin.requests)


def test_a_placement_short_of_quota_is_skipped_up_front(standin):
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0, region="us-central1")
    placed = place(_cfg(placements=LADDER), RUN)
    attempts = json.loads(placed.outputs.attempts)
    assert attempts[0]["outcome"] == "skipped" and "limit 0" in attempts[0]["error"]
    assert attempts[1]["outcome"] == "deployed" and list(_everywhere(standin)) == ["us-east4"]


def test_check_quota_prints_the_ladder_and_fails_only_when_no_placement_is_covered(standin, capsys):
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0, region="us-central1")
    rungs = json.loads(c.check_quota.python_func(config=_cfg(placements=LADDER)))
    assert [r["quota"] for r in rungs] == ["short", "ok", "ok"] and rungs[0]["skip"].startswith("quota: ")
    assert "1. [SKIP] us-central1 g2-standard-12 1× NVIDIA_L4" in capsys.readouterr().out
    with pytest.raises(QuotaError, match="quota covers no placement"):
        c.check_quota.python_func(config=_cfg(placements=[{"region": "us-central1"}, {"spot": True}]))


def test_teardown_and_cleanup_look_in_every_region_of_the_placements(standin):
    for region in ("us-east4", "europe-west4"):
        place(_cfg(region=region), RUN)
    assert set(_everywhere(standin)) == {"us-east4", "europe-west4"}
    c.cleanup_on_exit.python_func(project=PROJECT, location="us-central1", placements=LADDER, job_resource_name=JOB,
                                  teardown_policy="always", status=_Status("FAILED"))
    assert _everywhere(standin) == {}
    place(_cfg(region="europe-west4"), RUN)
    summary = c.teardown.python_func(project=PROJECT, location="us-central1", placements=LADDER, run_label=RUN)
    assert "removed projects/" in summary and _everywhere(standin) == {}


def test_the_walk_stops_when_placement_timeout_seconds_is_used_up(standin, monkeypatch):
    from vllm_vertex import clock
    from vllm_vertex.cloud import placing

    class Later(clock.SystemClock):  # real time, plus an hour once the first placement has started
        offset = 0.0

        def monotonic(self) -> float:
            return super().monotonic() + self.offset

    later, read_quota = Later(), placing._quota_skip

    def first_attempt_takes_an_hour(c):
        later.offset = 3600.0
        return read_quota(c)

    monkeypatch.setattr(placing, "_quota_skip", first_attempt_takes_an_hour)
    standin.faults.stockout(region="us-central1")
    with clock.use(later), pytest.raises(DeployError) as info:
        place(_cfg(placements=LADDER, placement_timeout_seconds=1800), RUN)
    text = str(info.value)
    assert "- 1. us-central1 g2-standard-12 1× NVIDIA_L4: stockout" in text
    assert "- 2. us-east4 g2-standard-12 1× NVIDIA_L4: timeout after 0.0 min (nothing created): placement_timeout_seconds used up" in text
    assert "europe-west4" not in text and _everywhere(standin) == {}


def test_staged_weights_are_the_models_source_and_no_token_is_read_or_sent(standin, capsys):
    place(_cfg(placements=LADDER[:2]), RUN, weights_uri="gs://my-bucket/staged/llama")
    env = {e["name"]: e.get("value") for e in _uploaded_spec(standin)["env"]}
    assert env["MODEL_ID"] == "gs://my-bucket/staged/llama" and "HF_TOKEN" not in env
    assert "HF token: none" in capsys.readouterr().out
    assert not any("secretmanager" in p or ":access" in p for _, p, _ in standin.requests)


def test_the_smoke_report_lists_every_placement_attempt(standin, tmp_path):
    standin.faults.stockout(region="us-central1")
    cfg = _cfg(placements=LADDER)
    placed = place(cfg, RUN)
    metrics, report = Metrics(name="metrics", uri="", metadata={}), Markdown(name="report", uri="", metadata={})
    report.path = str(tmp_path / "smoke.md")
    out = c.smoke_test.python_func(config=cfg, endpoint=placed.endpoint, metrics=metrics, report=report,
                                   attempts=placed.outputs.attempts)
    text = (tmp_path / "smoke.md").read_text()
    assert out.verdict == "passed" and "/locations/us-east4/endpoints/" in text
    assert "- Placement attempt 1, us-central1 g2-standard-12 1× NVIDIA_L4: stockout after 0.0 min (no replica" in text
    assert "- Placement attempt 2, us-east4 g2-standard-12 1× NVIDIA_L4: deployed after" in text
