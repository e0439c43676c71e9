"""Values refused before anything is created (issue #11's list), each naming the field and the fix, on every
path: compile (``compile_pipeline``), the run file, the console (the validate-config step) and the CLI."""

import pytest

from vllm_vertex import configfile
from vllm_vertex.config import ConfigError, from_preset, validate


def _compile(changes: dict, tmp_path) -> dict[str, str]:
    from pipelines import compile_pipeline

    out = tmp_path / "p.yaml"
    try:
        compile_pipeline(from_preset("llama-3.1-8b-instruct", **{"project": "my-project", **changes}), out)
    finally:
        assert not out.exists()
    return {}


def _run_file(changes: dict) -> dict[str, str]:
    configfile.parse({"preset": "llama-3.1-8b-instruct", "project": "my-project", "region": "us-central1", **changes})
    return {}


def _console(changes: dict) -> dict[str, str]:
    import json

    import components as c

    values = json.loads(from_preset("llama-3.1-8b-instruct", project="my-project").to_json())
    values.update(changes)
    values["location"] = values.pop("region")
    c.validate_config.python_func(**values, job_resource_name="projects/1/locations/us-central1/pipelineJobs/r")
    return {}


def _cli(changes: dict, tmp_path) -> str:
    import json

    from click.testing import CliRunner

    from vllm_vertex.cli import main

    path = tmp_path / "run.yaml"
    path.write_text(json.dumps({"preset": "llama-3.1-8b-instruct", "project": "my-project", "region": "us-central1",
                                "pipeline": {"pipeline_root": "gs://bkt/root"}, **changes}))
    result = CliRunner().invoke(main, ["submit", str(path)])
    assert result.exit_code == 2, result.output
    return result.output


PATHS = ("compile", "run_file", "console", "cli")


def _problems_on(path: str, changes: dict, tmp_path) -> dict[str, str]:
    if path == "cli":
        output = _cli(changes, tmp_path)
        return {line.split(":", 1)[0].lstrip("- ").strip(): line.split(":", 1)[1] for line in output.splitlines()
                if line.startswith("- ") and ":" in line}
    with pytest.raises(ConfigError) as info:
        {"compile": lambda: _compile(changes, tmp_path), "run_file": lambda: _run_file(changes),
         "console": lambda: _console(changes)}[path]()
    return dict(info.value.problems)


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"smoke_max_tokens": 4096}, "smoke_max_tokens", "no room for the prompt within max_model_len 4096"),
        ({"smoke_max_tokens": 9000, "max_model_len": 8192}, "smoke_max_tokens", "max_model_len 8192"),
        ({"smoke_image_url": "cat.jpg"}, "smoke_image_url", "is not an image URL"),
        ({"smoke_image_url": "ftp://host/cat.jpg"}, "smoke_image_url", "https://, http://, gs://"),
        ({"smoke_image_url": "data:text/plain;base64,aGk="}, "smoke_image_url", "data:image/"),
        ({"project": "My Project"}, "project", "is not a Google Cloud project ID"),
        ({"project": "proj"}, "project", "6-30 lowercase letters"),
        ({"project": "my_project"}, "project", "e.g. my-project-123"),
        ({"service_account": "runner"}, "service_account", "is not a service account email"),
        ({"service_account": "runner@"}, "service_account", "NAME@PROJECT.iam.gserviceaccount.com"),
        ({"labels": {f"k{i}": "v" for i in range(63)}}, "labels", "at most 62"),
        ({"labels": {"vllm-vertex-run": "mine"}}, "labels", "vllm-vertex-run is set by vllm-vertex"),
        ({"labels": {"managed-by": "me"}}, "labels", "managed-by is set by vllm-vertex"),
        ({"accelerator_type": "nvidia_l4"}, "accelerator_type", "Did you mean 'NVIDIA_L4'?"),
        ({"machine_type": "G2-STANDARD-12"}, "machine_type", "Did you mean 'g2-standard-12'?"),
        ({"region": "US-CENTRAL1"}, "region", "Did you mean 'us-central1'?"),
        ({"max_model_len": 200_000}, "max_model_len", "context of 131,072 tokens"),
        ({"extra_vllm_args": ["--max_model_len=8192"]}, "extra_vllm_args", "vLLM reads '--max_model_len'"),
        ({"extra_vllm_args": ["--max-model-len 8192"]}, "extra_vllm_args", "max_model_len = 4096"),
        ({"extra_vllm_args": ["--trust-remote-code"]}, "extra_vllm_args", "trust_remote_code = False"),
        ({"extra_vllm_args": ["--tensor_parallel_size=2"]}, "extra_vllm_args", "accelerator_count = 1"),
        ({"smoke_prompt": "hf_" + "A" * 34}, "smoke_prompt", "Secret Manager"),
    ],
)
@pytest.mark.parametrize("path", PATHS)
def test_refused_with_field_and_fix_on_every_path(tmp_path, path, changes, field, text):
    problems = _problems_on(path, changes, tmp_path)
    assert field in problems, problems
    if path != "cli":  # the CLI prints the same messages, wrapped to the terminal
        assert text in problems[field], problems


@pytest.mark.parametrize(
    "changes",
    [
        {"project": "123456789012"},
        {"project": "example.com:my-project"},
        {"service_account": "runner@my-project.iam.gserviceaccount.com"},
        {"service_account": "123456789012-compute@developer.gserviceaccount.com"},
        {"labels": {f"k{i}": "v" for i in range(62)}},
        {"smoke_image_url": "gs://bucket/images/cat.png"},
        {"smoke_image_url": "data:image/png;base64,iVBORw0KGgo="},
        {"smoke_max_tokens": 4095},
    ],
)
def test_accepted(changes):
    assert validate(from_preset("llama-3.1-8b-instruct", **{"project": "my-project", **changes}))


def test_run_file_path_refuses_the_same():
    with pytest.raises(ConfigError) as info:
        configfile.parse({"preset": "llama-3.1-8b-instruct", "project": "Not A Project", "region": "us-central1",
                          "labels": {"vllm-vertex-run": "x"}, "accelerator_type": "nvidia_l4"})
    problems = dict(info.value.problems)
    assert {"project", "labels", "accelerator_type"} <= problems.keys()
    assert "Did you mean 'NVIDIA_L4'?" in problems["accelerator_type"]


def test_console_path_refuses_the_same():
    import json

    import components as c

    values = json.loads(from_preset("llama-3.1-8b-instruct", project="my-project").to_json())
    values.update(location=values.pop("region"), service_account="runner", smoke_max_tokens=5000)
    with pytest.raises(ConfigError) as info:
        c.validate_config.python_func(**values, job_resource_name="projects/1/locations/us-central1/pipelineJobs/r")
    assert {"service_account", "smoke_max_tokens"} <= dict(info.value.problems).keys()
