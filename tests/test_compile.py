"""Compiled YAML: parses strictly back into the PipelineSpec proto, with the DAG we designed."""

import pathlib
import re
import subprocess
import sys

import pytest
import yaml
from google.protobuf import json_format
from kfp import components as kfp_components
from kfp.pipeline_spec import pipeline_spec_pb2

import compile as compile_script

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("compiled")
    assert compile_script.main(["--out", str(out)]) == 0
    return out


def _spec(path: pathlib.Path) -> pipeline_spec_pb2.PipelineSpec:
    return json_format.ParseDict(yaml.safe_load(path.read_text()), pipeline_spec_pb2.PipelineSpec())


@pytest.mark.parametrize("name", list(compile_script.TARGETS))
def test_yaml_parses_strictly_and_loads_as_component(compiled, name):
    spec = _spec(compiled / name)
    assert spec.pipeline_info.name == "vllm-deploy-and-verify"
    assert kfp_components.load_component_from_file(str(compiled / name)).name == "vllm-deploy-and-verify"


def test_defaults_come_from_the_preset(compiled):
    text = _spec(compiled / "vllm-deploy-text.yaml").root.input_definitions.parameters
    mm = _spec(compiled / "vllm-deploy-multimodal.yaml").root.input_definitions.parameters
    assert text["model_id"].default_value.string_value == "meta-llama/Meta-Llama-3.1-8B-Instruct"
    assert text["multimodal"].default_value.bool_value is False
    assert text["run_image_checks"].default_value.bool_value is False
    assert mm["model_id"].default_value.string_value == "meta-llama/Llama-3.2-11B-Vision-Instruct"
    assert mm["machine_type"].default_value.string_value == "a2-highgpu-1g"
    assert mm["max_num_seqs"].default_value.number_value == 12
    assert mm["run_image_checks"].default_value.bool_value is True
    assert mm["teardown_policy"].default_value.string_value == "on_failure"
    assert "Secret Manager version" in mm["hf_token_secret"].description


def _tasks(spec, component: str):
    return spec.components[component].dag.tasks


def test_dag_order_exit_handler_and_conditions(compiled):
    spec = _spec(compiled / "vllm-deploy-text.yaml")
    root = spec.root.dag.tasks
    assert set(root) == {"cleanup-on-exit", "exit-handler-1"}
    cleanup = root["cleanup-on-exit"]
    assert (
        cleanup.trigger_policy.strategy == pipeline_spec_pb2.PipelineTaskSpec.TriggerPolicy.ALL_UPSTREAM_TASKS_COMPLETED
    )
    assert cleanup.inputs.parameters["status"].task_final_status.producer_task == "exit-handler-1"
    job = cleanup.inputs.parameters["job_resource_name"].runtime_value.constant.string_value
    assert job == "{{$.pipeline_job_resource_name}}"

    body = _tasks(spec, "comp-exit-handler-1")
    validate = body["validate-config"].inputs.parameters["job_resource_name"].runtime_value.constant.string_value
    assert validate == job  # the exit handler derives the very label the resources got
    deps = {name: set(task.dependent_tasks) for name, task in body.items()}
    assert deps["check-quota"] == {"validate-config"}
    assert "check-quota" in deps["preflight"]
    assert {"preflight"} <= deps["stage-weights"]
    assert deps["place-and-deploy"] == {"stage-weights", "validate-config"}  # one step walks the placements
    assert "place-and-deploy" in deps["smoke-test"]
    staged = body["place-and-deploy"].inputs.parameters["weights_uri"].task_output_parameter
    assert (staged.producer_task, staged.output_parameter_key) == ("stage-weights", "Output")
    placements = "pipelinechannel--placements"
    assert cleanup.inputs.parameters["placements"].component_input_parameter == "placements"
    assert _tasks(spec, "comp-condition-3")["teardown"].inputs.parameters["placements"].component_input_parameter \
        == placements
    assert "smoke-test" in deps["check-verdict"]
    conditions = {name: t.trigger_policy.condition for name, t in body.items() if t.trigger_policy.condition}
    assert conditions == {
        "condition-2": "inputs.parameter_values['pipelinechannel--teardown_policy'] == 'always'",
        "condition-4": "inputs.parameter_values['pipelinechannel--teardown_policy'] == 'on_failure'",
        "condition-6": "inputs.parameter_values['pipelinechannel--probe_profile'] != 'off'",
    }
    # always: teardown after the smoke tests when the probe is off ...
    assert set(_tasks(spec, "comp-condition-2")) == {"condition-3"}
    off = _tasks(spec, "comp-condition-2")["condition-3"].trigger_policy.condition
    assert off == "inputs.parameter_values['pipelinechannel--probe_profile'] == 'off'"
    assert set(_tasks(spec, "comp-condition-3")) == {"teardown"} and "smoke-test" in deps["condition-2"]
    nested = _tasks(spec, "comp-condition-4")["condition-5"].trigger_policy.condition
    assert nested == "inputs.parameter_values['pipelinechannel--smoke-test-verdict'] == 'failed'"
    assert set(_tasks(spec, "comp-condition-5")) == {"teardown-2"}
    # ... and after the probe when it is on; the probe runs after the smoke tests, its gate after it
    probe_on = _tasks(spec, "comp-condition-6")
    assert set(probe_on) == {"probe", "check-probe", "condition-7"} and "smoke-test" in deps["condition-6"]
    assert list(probe_on["check-probe"].dependent_tasks) == ["probe"]
    assert list(probe_on["condition-7"].dependent_tasks) == ["probe"]
    assert probe_on["condition-7"].trigger_policy.condition == (
        "inputs.parameter_values['pipelinechannel--teardown_policy'] == 'always'"
    )
    assert set(_tasks(spec, "comp-condition-7")) == {"teardown-3"}


def _all_tasks(spec):
    for comp in ["root", *spec.components]:
        dag = spec.root.dag if comp == "root" else spec.components[comp].dag
        for name, task in dag.tasks.items():
            if not task.component_ref.name.startswith("comp-condition") and not name.startswith("exit-handler"):
                yield name, task


def test_every_task_has_a_display_name_and_no_caching(compiled):
    spec = _spec(compiled / "vllm-deploy-multimodal.yaml")
    names = {}
    for name, task in _all_tasks(spec):
        assert not task.caching_options.enable_cache, name
        names[name] = task.task_info.name
    assert names["teardown-2"] == "teardown-after-failed-smoke"
    assert names["place-and-deploy"] == "place-and-deploy"
    assert names["teardown-3"] == "teardown-after-probe" and names["check-probe"] == "check-probe"
    assert len(names) == 13  # with stage-weights; place-and-deploy is one step since issue 21


def test_steps_install_only_small_pinned_clients(compiled):
    spec = _spec(compiled / "vllm-deploy-text.yaml")
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    installs = {}
    for name, executor in executors.items():
        container = executor["container"]
        assert container["image"] == "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0"
        script = " ".join(container["command"])
        assert "'kfp==" not in script, name
        assert "__KFP_EMBEDDED_ARCHIVE_B64" in script, name
        installs[name] = sorted(p.split("==")[0] for p in re.findall(r"'([a-z_-]+==[0-9.]+)'", script))
    assert installs["exec-check-quota"] == ["google-cloud-quotas"]
    assert installs["exec-place-and-deploy"] == ["google-cloud-logging", "google-cloud-quotas",
                                                 "google-cloud-secret-manager"]
    assert installs["exec-preflight"] == ["google-cloud-secret-manager", "huggingface_hub"]
    assert installs["exec-smoke-test"] == ["openai"]
    assert installs["exec-probe"] == ["aiohttp"]  # pinned at the image's own version: pip installs nothing
    assert installs["exec-check-probe"] == []
    assert installs["exec-teardown"] == installs["exec-cleanup-on-exit"] == []


def test_compile_is_deterministic(compiled, tmp_path):
    assert compile_script.main(["--out", str(tmp_path)]) == 0
    for name in compile_script.TARGETS:
        assert (tmp_path / name).read_bytes() == (compiled / name).read_bytes()


def test_compile_does_not_import_aiplatform():
    code = "import sys, compile; compile.main(['--out', sys.argv[1]]); print('google.cloud.aiplatform' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code, "/tmp/vllm-vertex-compile-check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().endswith("False")


def test_compile_rejects_bad_config(tmp_path):
    from pipelines import compile_pipeline
    from vllm_vertex.config import ConfigError, from_preset

    with pytest.raises(ConfigError, match="gpu_memory_utilization"):
        compile_pipeline(from_preset("llama-3.1-8b", gpu_memory_utilization=3), tmp_path / "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("name", [*compile_script.TARGETS, *compile_script.CANARY_TARGETS])
def test_production_yaml_has_no_test_hooks_and_requires_the_project(compiled, name):
    spec = _spec(compiled / name)
    params = spec.root.input_definitions.parameters
    assert not {"api_endpoint", "hf_endpoint"} & set(params)
    passed = {k for _, task in _all_tasks(spec) for k in task.inputs.parameters}
    assert not {"api_endpoint", "hf_endpoint"} & passed
    declared = {k for comp in spec.components.values() for k in comp.input_definitions.parameters}
    assert "config" in declared and not {"api_endpoint", "hf_endpoint"} & declared  # no step takes a hook
    assert not params["project"].is_optional and not params["project"].HasField("default_value")
    assert params["location"].HasField("default_value")  # every other parameter keeps its preset default


def test_the_override_set_while_compiling_never_reaches_the_yaml(tmp_path, google_at):
    """The stand-in override lives in the environment of the process that runs a step, never in the YAML."""
    from pipelines import compile_all
    from vllm_vertex.cloud.context import current

    google_at("http://127.0.0.1:1/override-marker", hf="http://127.0.0.1:2/hub-marker")
    assert current().overridden  # the override is in force while compiling
    paths = compile_all(tmp_path, log=lambda _line: None)
    assert len(paths) == 3
    for path in paths:
        text = path.read_text()
        for marker in ("override-marker", "hub-marker", "127.0.0.1", "api_endpoint", "hf_endpoint",
                       "VLLM_VERTEX_API_ENDPOINT", "VLLM_VERTEX_HF_ENDPOINT"):
            assert marker not in text, (path.name, marker)


@pytest.mark.parametrize("canary", [False, True])
def test_our_writer_gives_the_documents_kfps_compiler_gives(tmp_path, canary):
    """``compile_pipeline`` writes with libyaml (KFP's pure-Python emitter took 95 % of compiling): the same
    comments, the same documents, only long quoted strings wrap elsewhere."""
    from kfp import compiler

    from pipelines import compile_pipeline, pipeline_arguments, pipeline_for
    from vllm_vertex.config import from_preset

    cfg = from_preset("llama-3.1-8b-instruct", project="my-project")
    endpoint = "123" if canary else None
    ours = compile_pipeline(cfg, tmp_path / "ours.yaml", canary_endpoint=endpoint)
    theirs = tmp_path / "kfp.yaml"
    compiler.Compiler().compile(pipeline_for(canary), str(theirs),
                                pipeline_parameters=pipeline_arguments(cfg, canary_endpoint=endpoint))
    ours_text, theirs_text = ours.read_text(), theirs.read_text()
    assert list(yaml.safe_load_all(ours_text)) == list(yaml.safe_load_all(theirs_text))
    comments = [line for line in theirs_text.splitlines() if line.startswith("#")]
    assert comments and [line for line in ours_text.splitlines() if line.startswith("#")] == comments
