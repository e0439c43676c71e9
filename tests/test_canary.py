"""The canary pipeline: compiles strictly, creates and deletes nothing, and runs under kfp.local."""

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from pipelines import canary, compile_pipeline, pipeline_arguments
from tests.cli_support import PROJECT, deploy
from vllm_vertex.config import from_preset

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> pipeline_spec_pb2.PipelineSpec:
    path = tmp_path_factory.mktemp("canary") / "vllm-canary.yaml"
    compile_pipeline(from_preset("llama-3.2-11b-vision-instruct"), path, canary_endpoint="")
    return json_format.ParseDict(yaml.safe_load(path.read_text()), pipeline_spec_pb2.PipelineSpec())


def test_canary_only_reads_and_checks(spec):
    assert spec.pipeline_info.name == "vllm-canary"
    tasks = spec.root.dag.tasks
    assert sorted(tasks) == ["check-verdict", "read-endpoint", "smoke-test"]
    assert all(not t.caching_options.enable_cache for t in tasks.values())
    executors = " ".join(spec.deployment_spec["executors"].keys())
    for creating in ("upload", "create", "deploy", "teardown", "cleanup", "delete"):
        assert creating not in executors


def test_canary_parameters_and_defaults(spec):
    params = spec.root.input_definitions.parameters
    assert set(params) == {
        "project", "location", "endpoint", "model_id", "run_image_checks", "run_chat_checks", "smoke_prompt",
        "smoke_image_url", "smoke_image_prompt", "smoke_max_tokens",
    }  # fmt: skip
    assert not params["project"].is_optional and not params["project"].HasField("default_value")  # asked for
    assert params["run_image_checks"].default_value.bool_value is True
    assert params["model_id"].default_value.string_value == "meta-llama/Llama-3.2-11B-Vision-Instruct"


@pytest.fixture
def local_runner(tmp_path):
    from kfp import local
    from kfp.local import config

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    yield
    config.LocalExecutionConfig.instance = None  # no kfp.local state for the next tests


def test_canary_runs_against_an_existing_endpoint_and_changes_nothing(standin, local_runner):
    endpoint = deploy(standin, dedicated=True)
    before, seen = standin.resources(), len(standin.requests)
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT)
    canary(**pipeline_arguments(cfg, canary_endpoint=endpoint.name.rsplit("/", 1)[-1]))  # raises on failure
    assert standin.resources() == before
    sent = [(m, p.split("?")[0]) for m, p, _ in standin.requests[seen:]]
    endpoint_id = endpoint.name.rsplit("/", 1)[-1]
    assert sent[0] == ("GET", f"/v1/projects/{PROJECT}/locations/us-central1/endpoints/{endpoint_id}")
    writes = [p for m, p in sent if m != "GET" and not p.endswith((":predict", "/chat/completions"))]
    assert writes == []
    assert any(p.endswith(":predict") for _, p in sent) and any(p.endswith("/chat/completions") for _, p in sent)
    assert standin.response_errors == []


def test_canary_fails_on_an_endpoint_that_does_not_exist(standin, local_runner):
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT)
    with pytest.raises(RuntimeError, match="read-endpoint"):
        canary(**pipeline_arguments(cfg, canary_endpoint="424242"))
    assert standin.resources()["endpoints"] == {}
