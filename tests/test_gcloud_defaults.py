"""Defaults like gcloud: project and region from the environment, gcloud's active configuration and ADC, in
gcloud's order, with the source said on stderr; commands use them when --project/--region are not given."""

from __future__ import annotations

import json

import pytest

from tests.cli_support import invoke
from vllm_vertex import gcloud_defaults

ENV = ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_AI_REGION", "CLOUDSDK_COMPUTE_REGION",
       "CLOUDSDK_ACTIVE_CONFIG_NAME", "GOOGLE_APPLICATION_CREDENTIALS")


@pytest.fixture
def gcloud(tmp_path, monkeypatch):
    """An empty gcloud folder and none of the variables set; returns a writer of configurations."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "gcloud"
    (folder / "configurations").mkdir(parents=True)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(folder))

    def configure(name: str, text: str, active: bool = True):
        (folder / "configurations" / f"config_{name}").write_text(text)
        if active:
            (folder / "active_config").write_text(name + "\n")
        return folder

    configure.folder = folder
    return configure


def test_nothing_configured_gives_nothing(gcloud):
    assert gcloud_defaults.project() == ("", "") and gcloud_defaults.region() == ("", "")


def test_project_order_env_then_configuration_then_adc_quota_project(gcloud, monkeypatch):
    (gcloud.folder / "application_default_credentials.json").write_text(
        json.dumps({"type": "authorized_user", "quota_project_id": "adc-project"}))
    assert gcloud_defaults.project()[0] == "adc-project"
    assert "Application Default Credentials (quota_project_id" in gcloud_defaults.project()[1]
    gcloud("work", "[core]\nproject = config-project\naccount = me@example.com\n")
    assert gcloud_defaults.project() == ("config-project", "gcloud configuration 'work' (core/project)")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "sdk-project")
    assert gcloud_defaults.project() == ("sdk-project", "GOOGLE_CLOUD_PROJECT")
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "gcloud-env-project")
    assert gcloud_defaults.project() == ("gcloud-env-project", "CLOUDSDK_CORE_PROJECT")


def test_region_order_ai_before_compute(gcloud, monkeypatch):
    gcloud("default", "[compute]\nregion = europe-west4\n")
    assert gcloud_defaults.region() == ("europe-west4", "gcloud configuration 'default' (compute/region)")
    gcloud("default", "[compute]\nregion = europe-west4\n[ai]\nregion = us-east1\n")
    assert gcloud_defaults.region()[0] == "us-east1"
    monkeypatch.setenv("CLOUDSDK_COMPUTE_REGION", "asia-east1")
    assert gcloud_defaults.region() == ("asia-east1", "CLOUDSDK_COMPUTE_REGION")
    monkeypatch.setenv("CLOUDSDK_AI_REGION", "us-west1")
    assert gcloud_defaults.region() == ("us-west1", "CLOUDSDK_AI_REGION")


def test_active_configuration_name_from_env_or_file_or_default(gcloud, monkeypatch):
    gcloud("default", "[core]\nproject = p-default\n", active=False)
    assert gcloud_defaults.project()[0] == "p-default"  # no active_config file: "default"
    gcloud("other", "[core]\nproject = p-other\n")
    assert gcloud_defaults.project()[0] == "p-other"
    monkeypatch.setenv("CLOUDSDK_ACTIVE_CONFIG_NAME", "default")
    assert gcloud_defaults.project()[0] == "p-default"


def test_a_broken_configuration_or_credentials_file_is_ignored(gcloud, monkeypatch):
    gcloud("default", "not an ini file [\n\x00")
    (gcloud.folder / "application_default_credentials.json").write_text("{not json")
    assert gcloud_defaults.project() == ("", "") and gcloud_defaults.region() == ("", "")


def test_schedule_list_uses_the_defaults_and_says_where_they_came_from(standin, gcloud, monkeypatch):
    gcloud("default", "[core]\nproject = my-project\n[ai]\nregion = us-central1\n")
    result = invoke(standin, "schedule", "list", "--json")
    assert result.exit_code == 0, result.output
    assert ("using project my-project (from gcloud configuration 'default' (core/project)) and region us-central1 "
            "(from gcloud configuration 'default' (ai/region))") in result.stderr
    assert isinstance(json.loads(result.stdout), list)
    assert any("/projects/my-project/locations/us-central1/schedules" in path for _, path, _ in standin.requests)
    monkeypatch.setenv("CLOUDSDK_CORE_PROJECT", "other-project")
    given = invoke(standin, "schedule", "list", "--project", "my-project", "--json")
    assert "using project" not in given.stderr and "using region us-central1" in given.stderr  # the flag wins


def test_without_any_default_the_error_says_how_to_set_one(gcloud):
    result = invoke(None, "schedule", "list")
    assert result.exit_code == 2
    assert "--project and --region missing" in result.output and "gcloud config set project P" in result.output


def test_a_run_file_without_project_and_region_takes_the_defaults_and_says_where_from(gcloud, tmp_path, monkeypatch):
    import yaml

    from tests.cli_support import TEXT

    gcloud("default", "[core]\nproject = my-project\n[ai]\nregion = us-central1\n")
    data = yaml.safe_load(open(TEXT))
    del data["project"], data["region"]
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    result = invoke(None, "submit", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would create this pipeline run in projects/my-project/locations/us-central1" in result.stdout
    assert result.stderr.count("using project") == 1
    assert ("using project my-project (from gcloud configuration 'default' (core/project)) and region us-central1 "
            "(from gcloud configuration 'default' (ai/region))") in result.stderr
    monkeypatch.setenv("CLOUDSDK_AI_REGION", "europe-west4")
    planned = invoke(None, "plan", str(path))
    assert planned.exit_code == 0, planned.output
    assert "region europe-west4 (from CLOUDSDK_AI_REGION)" in planned.stderr
    # the file's own values come before the environment and gcloud (and nothing is said); a flag before the file
    own = invoke(None, "submit", TEXT, "--dry-run")
    assert "pipeline run in projects/my-project/locations/us-central1" in own.stdout and "using" not in own.stderr
    flag = invoke(None, "submit", str(path), "--region", "us-east1", "--dry-run")
    assert "pipeline run in projects/my-project/locations/us-east1" in flag.stdout
    assert "using project my-project" in flag.stderr and "using region" not in flag.stderr
