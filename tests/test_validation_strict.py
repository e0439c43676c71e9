"""Validation matches whole values: no trailing newline slips through ``$``; values reaching filters and resource
names are checked (issue 17, item 7)."""

import pytest

from tests.cli_support import invoke
from vllm_vertex import configfile, naming
from vllm_vertex.cloud import logs
from vllm_vertex.commands import follow
from vllm_vertex.config import (
    EMAIL_RE,
    GCS_RE,
    HF_ID_RE,
    IMAGE_URL_RE,
    PROJECT_RE,
    SECRET_VERSION_RE,
    ConfigError,
    from_preset,
    validate,
)
from vllm_vertex.errors import BadInput

GOOD = [
    (HF_ID_RE, "meta-llama/Llama-3.1-8B-Instruct"),
    (GCS_RE, "gs://bucket/folder"),
    (PROJECT_RE, "my-project-1"),
    (EMAIL_RE, "me@example.com"),
    (SECRET_VERSION_RE, "projects/p/secrets/hf-token/versions/latest"),
    (IMAGE_URL_RE, "https://e.x/cat.png"),
    (configfile.IMAGE_RE, "us-docker.pkg.dev/p/r/vllm:1"),
    (configfile._NETWORK_RE, "projects/123/global/networks/default"),
    (configfile._SA_RE, "sa@p.iam.gserviceaccount.com"),
    (configfile._ENDPOINT_RE, "123"),
    (follow._ID, "run-1"),
]


@pytest.mark.parametrize(("pattern", "value"), GOOD, ids=[v for _, v in GOOD])
def test_every_validating_pattern_refuses_a_trailing_newline(pattern, value):
    assert pattern.match(value)
    assert not pattern.match(value + "\n")


def test_model_id_with_a_trailing_newline_is_refused_with_a_clear_message():
    with pytest.raises(ConfigError, match="starts or ends with whitespace or a line break"):
        validate(from_preset("llama-3.1-8b-instruct", project="my-project-1", model_id="meta-llama/Llama-3.1-8B\n"))


def test_submit_dry_run_refuses_a_trailing_newline_in_model_id(tmp_path):
    run = tmp_path / "run.yaml"
    run.write_text('preset: llama-3.1-8b-instruct\nproject: my-project-1\nregion: us-central1\n'
                   'model_id: "meta-llama/Llama-3.1-8B-Instruct\\n"\npipeline:\n  pipeline_root: gs://my-bucket/root\n')  # fmt: skip
    result = invoke(None, "submit", str(run), "--dry-run")
    assert result.exit_code == 2, result.output
    assert "model_id" in result.output and "line break" in result.output


@pytest.mark.parametrize("url", ["https://e.x/a.png)<img/src=x/onerror=alert(8)>", "https://e.x/a\".png"])
def test_smoke_image_url_with_markup_is_refused(url):
    cfg = from_preset("llama-3.2-11b-vision-instruct", project="my-project-1", smoke_image_url=url)
    with pytest.raises(ConfigError, match="smoke_image_url"):
        validate(cfg)


def test_run_label_reaching_a_list_filter_is_checked():
    assert 'labels.vllm-vertex-run="run-1"' in naming.label_filter("run-1")
    with pytest.raises(BadInput, match="is not a run label"):
        naming.label_filter('nomatch" OR labels.managed-by="vllm-vertex')


def test_teardown_refuses_a_hostile_run_label_before_any_request(standin):
    result = invoke(standin, "teardown", "--run-label", 'x" OR labels.managed-by="vllm-vertex', "--project", "p",
                    "--region", "us-central1", "--yes")  # fmt: skip
    assert result.exit_code == 2 and "is not a run label" in result.output
    assert standin.requests == []


@pytest.mark.parametrize(("project", "region"), [("p?x=1", "us-central1"), ("my-project", "us-central1/../x")])
def test_resource_names_refuse_hostile_project_and_region(project, region):
    with pytest.raises(BadInput, match="is not a project ID and a region"):
        naming.endpoint_resource_name("123", project, region)
    with pytest.raises(BadInput):
        naming.endpoint_resource_name(f"projects/{project}/locations/{region}/endpoints/1")


def test_log_filter_refuses_what_would_change_it():
    assert 'endpoint_id="42"' in logs.log_filter("projects/p/locations/l/endpoints/42", "2026-01-01T00:00:00Z")
    with pytest.raises(ValueError):
        logs.log_filter('projects/p/locations/l/endpoints/1" OR x="', "2026-01-01T00:00:00Z")
