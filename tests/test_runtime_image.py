"""What steps need to run in GCPC's image whatever client versions it holds (issue 8), quick tier:
operations carrying enum values the client does not know, and whole numbers that arrive as floats.

The image's google-cloud-aiplatform is older than Vertex: its operations carry enum values the client does
not know (1.126.1 does not know ``SUCCESSFULLY_DEPLOYED``). Here the stand-in ends a deploy with a stage no
installed client knows, the way the next stage Vertex adds will look to today's clients.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest
from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint

import components as c
from tests.standin import VertexStandin
from tests.standin.discovery import NEWER_ENUM_VALUE as FUTURE_STAGE
from tests.steps import place
from vllm_vertex import configfile
from vllm_vertex.cloud import operations
from vllm_vertex.cloud.teardown import teardown_run
from vllm_vertex.config import ConfigError, DeploymentConfig, from_dict, from_preset, validate

pytestmark = [pytest.mark.timeout(120), pytest.mark.standin(deploy_stage=FUTURE_STAGE)]

RUN = "run-image"


def _deploy(s: VertexStandin, log: list[str]) -> VertexEndpoint:
    cfg = from_preset("llama-3.1-8b-instruct", project="my-project-1", deploy_timeout_seconds=30).to_json()
    placed = place(cfg, RUN)
    log.append(json.loads(placed.outputs.attempts)[-1]["outcome"])
    return placed.endpoint


def test_a_deploy_ending_in_an_unknown_stage_succeeds(standin, capsys):
    outcomes: list[str] = []
    endpoint = _deploy(standin, outcomes)
    assert "deploy: done" in capsys.readouterr().out and outcomes == ["deployed"]
    [ep] = [e for n, e in standin.resources()["endpoints"].items() if n == endpoint.metadata["resourceName"]]
    [deployed] = standin.resources()["deployedModels"].values()
    assert len(ep["deployedModels"]) == 1 and deployed["state"] == "deployed"


def test_operations_are_read_and_listed_with_the_unknown_stage_skipped(standin):
    from google.api_core import exceptions
    from google.protobuf import json_format

    endpoint = _deploy(standin, [])
    name = endpoint.metadata["resourceName"]
    [op] = [o for o in operations.list_operations(name, "us-central1") if "deploy" in o.metadata.type_url.lower()]
    assert op.done and op.metadata.type_url.endswith("DeployModelOperationMetadata")
    again = operations.get_operation(op.name, "us-central1")
    assert again == op
    # The strict parse (what api_core's operations client does) refuses the same answer.
    with pytest.raises(json_format.ParseError, match=FUTURE_STAGE):
        json_format.Parse(_raw_operation(standin, op.name), type(op)())
    with pytest.raises(exceptions.NotFound):
        operations.get_operation(op.name + "0", "us-central1")


def _raw_operation(s: VertexStandin, name: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{s.url}/v1/{name}") as answer:
        return answer.read().decode()


def test_teardown_lists_operations_with_an_unknown_stage_and_removes_everything(standin):
    _deploy(standin, [])
    lines: list[str] = []
    report = teardown_run("my-project-1", "us-central1", RUN, log=lines.append)
    assert report.clean, report.summary()
    assert not [ln for ln in lines if "could not" in ln], lines
    assert standin.resources()["endpoints"] == {} and standin.resources()["models"] == {}


# Whole numbers that arrive as floats ---------------------------------------------------------------------
# JSON has one number type: a backend, the console or a run file may send an integer parameter as 1.0.


def _console_values(**overrides) -> dict:
    values = json.loads(from_preset("llama-3.1-8b-instruct", project="my-project-1").to_json())
    values["location"] = values.pop("region")
    values.update(overrides)
    return values


def test_validate_config_takes_every_integer_parameter_as_a_whole_float():
    values = _console_values()
    ints = {k for k, v in values.items() if isinstance(v, int) and not isinstance(v, bool)}
    assert {"accelerator_count", "max_model_len", "max_num_seqs", "smoke_max_tokens"} <= ints
    sent = {k: float(v) if k in ints else v for k, v in values.items()}
    out = c.validate_config.python_func(**sent, job_resource_name="projects/p/locations/us-central1/pipelineJobs/run")
    cfg = json.loads(out.config)
    assert {k: (cfg[k], type(cfg[k])) for k in ints} == {k: (values[k], int) for k in ints}
    assert DeploymentConfig.from_json(out.config).tensor_parallel_size == 1


@pytest.mark.parametrize("field", ["accelerator_count", "max_num_seqs", "deploy_timeout_seconds"])
def test_validate_config_refuses_a_fraction_by_name(field):
    with pytest.raises(ConfigError) as info:
        c.validate_config.python_func(**_console_values(**{field: 12.5}), job_resource_name="projects/p/locations/us-central1/pipelineJobs/run")
    assert [name for name, _ in info.value.problems] == [field]
    assert "12.5" in str(info.value) and "whole number" in str(info.value)


def test_config_validation_path_takes_whole_floats_and_refuses_fractions_by_name():
    base = dataclasses.asdict(from_preset("llama-3.1-8b-instruct", project="my-project-1"))
    cfg = from_dict({**base, "max_num_seqs": 16.0, "max_replica_count": 2.0})
    assert (cfg.max_num_seqs, type(cfg.max_num_seqs), cfg.max_replica_count) == (16, int, 2)
    validate(cfg)
    with pytest.raises(ConfigError) as info:
        from_dict({**base, "max_num_seqs": 16.5, "smoke_max_tokens": 8.25, "gpu_memory_utilization": 0.9})
    assert [name for name, _ in info.value.problems] == ["max_num_seqs", "smoke_max_tokens"]
    run = configfile.parse({"preset": "llama-3.1-8b-instruct", "project": "my-project-1", "region": "us-central1",
                            "max_num_seqs": 32.0})
    assert (run.config.max_num_seqs, type(run.config.max_num_seqs)) == (32, int)
    with pytest.raises(ConfigError, match=r"max_num_seqs: must be an integer, got float 32.5. Write a whole number"):
        configfile.parse({"preset": "llama-3.1-8b-instruct", "project": "my-project-1", "region": "us-central1",
                          "max_num_seqs": 32.5})


def test_canary_read_endpoint_takes_smoke_max_tokens_as_a_whole_float(standin):
    endpoint = _deploy(standin, [])
    args = dict(project="my-project-1", location="us-central1", endpoint_name=endpoint.metadata["resourceName"],
                model_id="m", run_image_checks=False, run_chat_checks=True, smoke_prompt="Hi", smoke_image_url="",
                smoke_image_prompt="")
    out = c.read_endpoint.python_func(**args, smoke_max_tokens=8.0, endpoint=VertexEndpoint(name="e", uri="", metadata={}))
    assert json.loads(out.config)["smoke_max_tokens"] == 8 and '"smoke_max_tokens": 8,' in out.config
    with pytest.raises(ConfigError, match="smoke_max_tokens: must be a whole number, got 8.5"):
        c.read_endpoint.python_func(**args, smoke_max_tokens=8.5, endpoint=VertexEndpoint(name="e", uri="", metadata={}))


def test_check_verdict_counts_arrive_as_floats(capsys):
    c.check_verdict.python_func(verdict="passed", passed=4.0, failed=0.0)
    assert capsys.readouterr().out.strip() == "smoke tests passed: 4 checks"
    with pytest.raises(RuntimeError, match=r"smoke tests failed: 1 of 4 checks"):
        c.check_verdict.python_func(verdict="failed", passed=3.0, failed=1.0)
    with pytest.raises(ConfigError, match="passed: must be a whole number, got 3.5"):
        c.check_verdict.python_func(verdict="failed", passed=3.5, failed=1.0)


# Prebuilt runtime image (compile --image) ---------------------------------------------------------------

IMAGE = "us-central1-docker.pkg.dev/my-proj/vllm-vertex/vllm-vertex-steps:gcpc-2.22.0"


def _spec(path: pathlib.Path):
    import yaml
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    return json_format.ParseDict(yaml.safe_load(path.read_text()), pipeline_spec_pb2.PipelineSpec())


@pytest.mark.parametrize("canary", [False, True])
def test_image_yaml_installs_nothing_and_embeds_nothing(tmp_path, canary):
    from google.protobuf import json_format

    from pipelines.compiling import compile_pipeline

    cfg = from_preset("llama-3.1-8b-instruct", project="my-project-1")
    endpoint = "" if canary else None
    plain = compile_pipeline(cfg, tmp_path / "plain.yaml", canary_endpoint=endpoint)
    on_image = compile_pipeline(cfg, tmp_path / "image.yaml", canary_endpoint=endpoint, image=IMAGE)
    text = on_image.read_text()
    assert "pip install" not in text and "__KFP_EMBEDDED" not in text and "ensurepip" not in text
    assert "pip install" in plain.read_text() and "__KFP_EMBEDDED_ARCHIVE_B64" in plain.read_text()
    print(f"\n{'canary' if canary else 'deploy-and-verify'} YAML: {plain.stat().st_size:,} bytes; "
          f"with --image {on_image.stat().st_size:,} bytes")
    a, b = _spec(plain), _spec(on_image)
    executors = json_format.MessageToDict(b.deployment_spec)["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {IMAGE}
    before = json_format.MessageToDict(a.deployment_spec)["executors"]
    assert {k: e["container"]["args"] for k, e in executors.items()} == {k: e["container"]["args"] for k, e in before.items()}
    # Everything but the containers is the same pipeline.
    a.ClearField("deployment_spec")
    b.ClearField("deployment_spec")
    assert a == b


def test_compile_image_from_the_cli_and_a_run_file(tmp_path):
    from click.testing import CliRunner

    from vllm_vertex.cli import main

    result = CliRunner().invoke(main, ["compile", "--out", str(tmp_path), "--image", IMAGE])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*.yaml"))
    assert len(files) == 3 and all(IMAGE in f.read_text() and "pip install" not in f.read_text() for f in files)
    bad = CliRunner().invoke(main, ["compile", "--out", str(tmp_path / "x"), "--image", "not an image"])
    assert bad.exit_code == 2 and "image: 'not an image' is not a container image URI" in bad.output

    base = {"preset": "llama-3.1-8b-instruct", "project": "my-project-1", "region": "us-central1"}
    run = configfile.parse({**base, "pipeline": {"image": IMAGE + "@sha256:" + "a" * 64}})
    assert run.pipeline.image.endswith("a" * 64)
    with pytest.raises(ConfigError, match="pipeline.image: 'ubuntu latest' is not a container image URI"):
        configfile.parse({**base, "pipeline": {"image": "ubuntu latest"}})


def test_the_runtime_image_lock_holds_every_step_pin():
    """image/runtime-image.lock (what image/Dockerfile installs) keeps up with the steps' pins: after changing
    PACKAGES, run scripts/lock_runtime_image.sh. A pin the GCPC image already holds at that version (its lock,
    image/gcpc-2.22.0-image.lock) needs nothing installed, so pip leaves it out of the runtime lock."""
    from components._runtime import PACKAGES

    root = pathlib.Path(__file__).resolve().parent.parent

    def read(name: str) -> dict[str, str]:
        return dict(line.split("==") for line in (root / "image" / name).read_text().splitlines()
                    if line and not line.startswith("#"))

    installed, image = read("runtime-image.lock"), read("gcpc-2.22.0-image.lock")
    missing = []
    for pin in PACKAGES.values():
        name, version = pin.split("==")
        name = name.lower().replace("_", "-")
        if installed.get(name, image.get(name)) != version:
            missing.append(pin)
    assert not missing, f"not in image/runtime-image.lock at their pins: {missing}; run scripts/lock_runtime_image.sh"
    dockerfile = (root / "image" / "Dockerfile").read_text()
    assert "FROM gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0\n" in dockerfile
    assert "pip3 install --no-cache-dir --no-deps -r /opt/vllm-vertex/runtime-image.lock" in dockerfile
