"""Least privilege: docs/iam/*.yaml in step with doctor's grants, and doctor's warnings on broad IAM (stand-in)."""

from __future__ import annotations

import json
import re

import yaml

from tests.cli_support import PROJECT, ROOT, TEXT, WHERE, invoke
from tests.standin.state import project_number
from tests.test_doctor import ACCOUNT, lines_of, ready
from vllm_vertex import doctor

CALLER = "user:dev@example.com"  # the stand-in's caller


def test_custom_role_files_are_the_codes_grants():
    """A permission added to doctor's grants and not to docs/iam (or the reverse) fails here."""
    files = {p.stem: p for p in (ROOT / "docs" / "iam").glob("*.yaml")}
    assert set(files) == set(doctor.CUSTOM_ROLES)
    for identity, path in files.items():
        text = path.read_text()
        assert text == doctor.custom_role_yaml(identity), f"regenerate: python3 -m vllm_vertex.doctor ({path})"
        role = yaml.safe_load(text)
        assert set(role) == {"title", "description", "stage", "includedPermissions"}
        assert role["includedPermissions"] == doctor.custom_role_permissions(identity)
        assert len(role["title"]) <= 100 and len(role["description"]) <= 256 and role["stage"] == "GA"
    assert "aiplatform.endpoints.deploy" in doctor.custom_role_permissions("pipeline")
    assert "aiplatform.endpoints.deploy" not in doctor.custom_role_permissions("submitter")
    assert "aiplatform.pipelineJobs.create" in doctor.custom_role_permissions("submitter")


def test_every_permission_says_where_it_is_used():
    used = {p for grants in (doctor.SUBMITTER, doctor.PIPELINE_ACCOUNT, doctor.DEPLOYED_MODEL)
            for g in grants for p in g.permissions}
    assert used == set(doctor.USED_AT)  # none uncited, none stale
    for permission, where in doctor.USED_AT.items():
        paths = re.findall(r"cloud/\w+\.py", where)
        texts = [(ROOT / "vllm_vertex" / p).read_text() for p in paths]
        assert all(texts), where
        calls = re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", where)
        for call in calls:
            assert any(call in t for t in texts), f"{permission}: {call} is not in {paths}"


def _least_privilege(standin, leave_out: str = ""):
    """The custom roles of docs/iam (less ``leave_out``), bound as README says; doctor's result."""
    ready(standin, caller_roles=())
    cloud = standin.cloud
    for member in (CALLER, f"serviceAccount:{ACCOUNT}"):
        for role in list(cloud.policies[f"projects/{PROJECT}"]):
            cloud.revoke(f"projects/{PROJECT}", member, role)
    roles = {}
    for identity in doctor.CUSTOM_ROLES:
        role = yaml.safe_load((ROOT / "docs" / "iam" / f"{identity}.yaml").read_text())
        permissions = [p for p in role["includedPermissions"] if p != leave_out]
        roles[identity] = cloud.add_custom_role(PROJECT, doctor.CUSTOM_ROLES[identity][0], permissions)
    cloud.grant(f"projects/{PROJECT}", f"serviceAccount:{ACCOUNT}", roles["pipeline"])
    cloud.grant(f"projects/{PROJECT}", CALLER, roles["submitter"], "roles/iam.securityReviewer",
                "roles/serviceusage.serviceUsageConsumer")
    cloud.grant(ACCOUNT, CALLER, "roles/iam.serviceAccountUser")
    return invoke(standin, "doctor", TEXT, "--caller", CALLER)


def test_a_least_privilege_setup_gives_no_warning(standin):
    """The custom roles of docs/iam, bound as README says: every check ok and no warning."""
    result = _least_privilege(standin)
    assert result.exit_code == 0, result.output
    assert lines_of(result.output, "WARN") == [] and lines_of(result.output, "MISSING") == []
    assert "warning" not in result.output.splitlines()[-1]


def test_owner_or_editor_warns_with_the_narrowing_fix(standin):
    ready(standin)  # the caller holds roles/owner
    standin.cloud.grant(f"projects/{PROJECT}", f"serviceAccount:{ACCOUNT}", "roles/editor")
    result = invoke(standin, "doctor", TEXT, "--caller", CALLER)
    assert result.exit_code == 0, result.output  # a warning is not a failure
    warned = lines_of(result.output, "WARN")
    assert any(f"pipeline service account {ACCOUNT} holds roles/editor" in w for w in warned), result.output
    assert any(f"submitter (you) {CALLER} holds roles/owner" in w for w in warned), result.output
    fixes = [line.strip()[len("fix: "):] for line in result.output.splitlines() if line.strip().startswith("fix: ")]
    assert (f"gcloud projects add-iam-policy-binding my-project --member=serviceAccount:{ACCOUNT} "
            "--role=projects/my-project/roles/vllmVertexPipeline && gcloud projects remove-iam-policy-binding "
            f"my-project --member=serviceAccount:{ACCOUNT} --role=roles/editor") in "\n".join(fixes)
    assert ("gcloud iam roles create vllmVertexSubmitter --project my-project --file docs/iam/submitter.yaml"
            in "\n".join(fixes))
    assert result.output.strip().endswith("19 of 19 checks ok; 2 warnings")


def test_default_compute_account_warns_and_json_carries_it(standin):
    ready(standin)
    default = f"{project_number(PROJECT)}-compute@developer.gserviceaccount.com"
    standin.cloud.add_service_account(PROJECT, default)
    result = invoke(standin, "doctor", *WHERE, "--json")
    payload = json.loads(result.stdout)
    names = [w["name"] for w in payload["warnings"]]
    assert names == ["warning:default-pipeline-account"], payload["warnings"]
    warning = payload["warnings"][0]
    assert warning["status"] == "warning" and default in warning["detail"]
    assert warning["fix"] == ('gcloud iam service-accounts create vllm-pipelines --project my-project '
                              '--display-name "vllm-vertex pipelines"')
    assert warning in payload["checks"]


def test_viewers_of_the_models_env_are_warned_about(standin):
    ready(standin)
    standin.cloud.grant(f"projects/{PROJECT}", "user:analyst@example.com", "roles/viewer")
    standin.cloud.grant(f"projects/{PROJECT}", "group:ml@example.com", "roles/aiplatform.viewer")
    result = invoke(standin, "doctor", TEXT)
    assert result.exit_code == 0, result.output
    [warned] = lines_of(result.output, "WARN")
    assert "user:analyst@example.com (roles/viewer)" in warned and "group:ml@example.com (roles/aiplatform.viewer)" \
        in warned
    assert "Model's container env" in warned and "aiplatform.models.get" in warned and "#20" in warned
    lines = result.output.splitlines()
    fix = lines[[i for i, line in enumerate(lines) if line.strip().startswith("WARN")][0] + 1].strip()
    assert fix == ("fix: gcloud projects remove-iam-policy-binding my-project --member=group:ml@example.com "
                   "--role=roles/aiplatform.viewer && gcloud projects remove-iam-policy-binding my-project "
                   "--member=user:analyst@example.com --role=roles/viewer")


def test_viewers_are_not_warned_about_without_a_token(standin):
    """Without an HF token secret no token sits in a Model's env: viewers are fine."""
    ready(standin)
    standin.cloud.grant(f"projects/{PROJECT}", "user:analyst@example.com", "roles/viewer")
    result = invoke(standin, "doctor", *WHERE, "--service-account", ACCOUNT, "--json")
    payload = json.loads(result.stdout)
    assert payload["warnings"] == [] and payload["ok"], payload


def test_the_pipeline_role_holds_what_vertex_pipelines_checks_when_a_run_starts(standin):
    """Google documents ``aiplatform.metadataStores.get`` for the pipeline's service account (checked when a run is
    created); without it doctor reports the gap, naming the permission."""
    line = next(x for x in (ROOT / "docs" / "iam" / "pipeline.yaml").read_text().splitlines()
                if x.startswith("- aiplatform.metadataStores.get"))
    assert doctor.GOOGLE_PIPELINES_DOC in line and "when it creates a run" in line
    result = _least_privilege(standin, leave_out="aiplatform.metadataStores.get")
    missing = lines_of(result.output, "MISSING")
    assert result.exit_code != 0 and any("aiplatform.metadataStores.get" in m for m in missing), result.output
