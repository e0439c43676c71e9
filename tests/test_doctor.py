"""``vllm-vertex doctor`` against the stand-in: each missing piece with its fix, all-ok when set up, --json, --fix."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.cli_support import PROJECT, REGION, TEXT, WHERE, invoke

ACCOUNT = "pipeline-runner@my-project.iam.gserviceaccount.com"  # the example run file's pipeline.service_account
SECRET = "projects/my-project/secrets/hf-token"
APIS = ("aiplatform.googleapis.com", "cloudquotas.googleapis.com", "secretmanager.googleapis.com",
        "logging.googleapis.com", "storage.googleapis.com", "iam.googleapis.com", "cloudresourcemanager.googleapis.com")
PIPELINE_ROLES = ("roles/aiplatform.user", "roles/logging.viewer", "roles/cloudquotas.viewer",
                  "roles/serviceusage.serviceUsageConsumer")


def ready(standin, caller_roles=("roles/owner",)) -> None:
    """The project as README's "Before your first run" leaves it."""
    cloud = standin.cloud
    cloud.add_project(PROJECT, APIS)
    cloud.grant(f"projects/{PROJECT}", cloud.caller, *caller_roles)
    cloud.add_service_account(PROJECT, ACCOUNT)
    cloud.grant(f"projects/{PROJECT}", f"serviceAccount:{ACCOUNT}", *PIPELINE_ROLES)
    cloud.add_bucket(PROJECT, "my-bucket")
    cloud.grant("buckets/my-bucket", f"serviceAccount:{ACCOUNT}", "roles/storage.objectUser")
    standin.add_secret(SECRET, "hf_" + "x" * 34)
    cloud.grant(SECRET, f"serviceAccount:{ACCOUNT}", "roles/secretmanager.secretAccessor")
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 4)
    standin.set_quota("CustomModelServingCPUsPerProjectPerRegion", 200)


def lines_of(output: str, mark: str) -> list[str]:
    return [line.strip()[len(mark):].strip() for line in output.splitlines() if line.strip().startswith(mark + " ")]


def fix_after(output: str, text: str) -> str:
    """The ``fix:`` line that follows the MISSING line containing ``text``."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("MISSING") and text in line:
            assert lines[i + 1].strip().startswith("fix: "), output
            return lines[i + 1].strip()[len("fix: "):]
    raise AssertionError(f"no MISSING line with {text!r}:\n{output}")


def test_all_ok_when_set_up(standin):
    ready(standin)
    result = invoke(standin, "doctor", TEXT)
    assert result.exit_code == 0, result.output
    assert lines_of(result.output, "MISSING") == [] and lines_of(result.output, "?") == []
    ok = lines_of(result.output, "ok")
    assert len(ok) == 19 and result.output.strip().endswith("19 of 19 checks ok")
    assert f"you may act as {ACCOUNT} (iam.serviceAccounts.actAs)" in ok
    assert f"{ACCOUNT} may write gs://my-bucket" in ok and f"{ACCOUNT} may read {SECRET}" in ok


def test_each_missing_piece_is_named_with_its_fix(standin):
    ready(standin, caller_roles=("roles/aiplatform.user", "roles/logging.viewer", "roles/iam.securityReviewer"))
    cloud = standin.cloud
    cloud.services[PROJECT].discard("logging.googleapis.com")  # a missing API
    cloud.buckets.clear()  # a missing bucket
    cloud.revoke(SECRET, f"serviceAccount:{ACCOUNT}", "roles/secretmanager.secretAccessor")  # unreadable secret
    cloud.revoke(f"projects/{PROJECT}", f"serviceAccount:{ACCOUNT}", "roles/logging.viewer")
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0)  # low quota
    # no actAs: the caller has no roles/iam.serviceAccountUser
    result = invoke(standin, "doctor", TEXT)
    assert result.exit_code == 1, result.output
    assert fix_after(result.output, "logging.googleapis.com is not enabled") == (
        "gcloud services enable logging.googleapis.com --project my-project")
    assert fix_after(result.output, "gs://my-bucket does not exist") == (
        "gcloud storage buckets create gs://my-bucket --project my-project --location us-central1 "
        "--uniform-bucket-level-access")
    assert fix_after(result.output, f"you may not act as {ACCOUNT}") == (
        f"gcloud iam service-accounts add-iam-policy-binding {ACCOUNT} --project my-project "
        '--member=user:"$(gcloud config get-value account)" --role=roles/iam.serviceAccountUser')
    assert fix_after(result.output, f"cannot read {SECRET}") == (
        f"gcloud secrets add-iam-policy-binding hf-token --project my-project --member=serviceAccount:{ACCOUNT} "
        "--role=roles/secretmanager.secretAccessor")
    assert fix_after(result.output, "lacks logging.logEntries.list") == (
        f"gcloud projects add-iam-policy-binding my-project --member=serviceAccount:{ACCOUNT} --role=roles/logging.viewer")
    quota = fix_after(result.output, "CustomModelServingL4GPUsPerProjectPerRegion in us-central1: need 1")
    assert "console.cloud.google.com/iam-admin/quotas" in quota and "limit 0" in result.output
    assert result.output.strip().endswith("6 missing")


def test_missing_service_account_and_disabled_secret_version(standin):
    ready(standin)
    standin.cloud.service_accounts.clear()
    standin.cloud.disabled_versions.add(f"{SECRET}/versions/1")
    result = invoke(standin, "doctor", TEXT)
    assert result.exit_code == 1
    assert fix_after(result.output, f"service account {ACCOUNT} does not exist") == (
        'gcloud iam service-accounts create pipeline-runner --project my-project --display-name "vllm-vertex pipelines"')
    assert fix_after(result.output, "is DISABLED") == "gcloud secrets versions enable 1 --secret hf-token --project my-project"


def test_unknown_project_stops_after_it(standin):
    result = invoke(standin, "doctor", *WHERE)
    assert result.exit_code == 1
    assert "project my-project does not exist or you cannot see it" in result.output
    assert "api:" not in result.output and "1 of 2 checks ok; 1 missing" in result.output


def test_without_iam_policy_access_the_service_account_is_not_guessed(standin):
    ready(standin, caller_roles=("roles/aiplatform.user", "roles/logging.viewer", "roles/storage.objectUser"))
    standin.cloud.grant(ACCOUNT, standin.cloud.caller, "roles/iam.serviceAccountUser")
    result = invoke(standin, "doctor", TEXT)
    unknown = lines_of(result.output, "?")
    assert any("cannot read the project's IAM policy" in u and "roles/iam.securityReviewer" in u for u in unknown)
    assert any("cannot check that" in u for u in unknown)  # the secret
    # the bucket falls back to the caller's own testIamPermissions, and says so
    assert any(line.startswith("gs://my-bucket is writable by you") for line in lines_of(result.output, "ok"))
    assert result.exit_code == 0  # nothing is known to be missing


def test_json_shape(standin):
    ready(standin)
    standin.cloud.services[PROJECT].discard("cloudquotas.googleapis.com")
    result = invoke(standin, "doctor", TEXT, "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) == {"project", "region", "ok", "summary", "checks", "fixed", "warnings"}
    assert (data["project"], data["region"], data["ok"], data["fixed"]) == (PROJECT, REGION, False, [])
    for check in data["checks"]:
        assert set(check) == {"name", "status", "detail", "fix", "fixable"}
        assert check["status"] in ("ok", "missing", "unknown", "skipped")
    missing = [c for c in data["checks"] if c["status"] == "missing"]
    assert [c["name"] for c in missing] == ["api:cloudquotas.googleapis.com"]
    assert missing[0]["fixable"] and missing[0]["fix"] == "gcloud services enable cloudquotas.googleapis.com --project my-project"


def test_fix_applies_each_missing_piece_and_says_it(standin):
    cloud = standin.cloud
    cloud.add_project(PROJECT, ("aiplatform.googleapis.com",))
    cloud.grant(f"projects/{PROJECT}", cloud.caller, "roles/aiplatform.user", "roles/serviceusage.serviceUsageAdmin",
                "roles/storage.admin", "roles/iam.serviceAccountAdmin", "roles/resourcemanager.projectIamAdmin",
                "roles/iam.roleViewer", "roles/secretmanager.admin")  # no actAs: --fix grants it
    standin.add_secret(SECRET, "hf_" + "x" * 34)
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 4)
    standin.set_quota("CustomModelServingCPUsPerProjectPerRegion", 200)
    before = invoke(standin, "doctor", TEXT)
    assert before.exit_code == 1
    result = invoke(standin, "doctor", TEXT, "--fix", "--caller", cloud.caller)
    assert result.exit_code == 0, result.output
    fixed = [line[len("fixing: "):] for line in result.output.splitlines() if line.startswith("fixing: ")]
    assert fixed[0] == f"gcloud services enable {' '.join(sorted(APIS[1:]))} --project my-project"
    assert 'gcloud iam service-accounts create pipeline-runner --project my-project --display-name "vllm-vertex pipelines"' in fixed
    assert ("gcloud storage buckets create gs://my-bucket --project my-project --location us-central1 "
            "--uniform-bucket-level-access") in fixed
    assert result.output.count("  done") == len(fixed) and "  failed:" not in result.output
    assert result.output.strip().endswith("19 of 19 checks ok")
    # what the stand-in now holds
    assert set(APIS) <= cloud.services[PROJECT] and "my-bucket" in cloud.buckets and ACCOUNT in cloud.service_accounts
    # enabling answered a pending operation, which Service Usage's client polled until done
    assert any(m == "GET" and p.startswith("/v1/operations/acat.p2-") for m, p, _ in standin.requests)
    assert f"serviceAccount:{ACCOUNT}" in cloud.policies[SECRET]["roles/secretmanager.secretAccessor"]
    assert cloud.caller in cloud.policies[ACCOUNT]["roles/iam.serviceAccountUser"]
    for role in PIPELINE_ROLES:
        assert f"serviceAccount:{ACCOUNT}" in cloud.policies[f"projects/{PROJECT}"][role]


def test_requests_are_the_official_clients_checked_against_discovery(standin):
    ready(standin)
    invoke(standin, "doctor", TEXT)
    paths = {p.split("?")[0] for _, p, _ in standin.requests}
    assert "/v3/projects/my-project" in paths  # Resource Manager
    assert "/v1/projects/my-project/services:batchGet" in paths  # Service Usage
    assert f"/v1/projects/-/serviceAccounts/{ACCOUNT}:testIamPermissions" in paths  # IAM actAs
    assert "/storage/v1/b/my-bucket" in paths and "/storage/v1/b/my-bucket/iam" in paths  # Cloud Storage
    assert f"/v1/{SECRET}:getIamPolicy" in paths  # Secret Manager


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--project", PROJECT], "--region missing"),
        ([*WHERE, "--pipeline-root", "my-bucket/x"], "gs://bucket/folder"),
        ([*WHERE, "--preset", "llama-3.1-8b-instrct"], "llama-3.1-8b-instruct"),
        ([*WHERE, "--caller", "dev@example.com"], "IAM member"),
        (["--project", PROJECT, "--region", "us-central9"], "not a Vertex AI prediction region"),
    ],
)
def test_bad_input_exits_2_before_any_request(standin, args, text):
    result = invoke(standin, "doctor", *args)
    assert standin.requests == []
    assert result.exit_code == 2 and text in result.output


def test_readme_lists_the_roles_and_apis_doctor_checks():
    """README's "Before your first run" and vllm_vertex/doctor/ name the same grants and APIs."""
    import re

    from tests.cli_support import ROOT
    from vllm_vertex import doctor

    text = (ROOT / "README.md").read_text()
    section = text.split("## Before your first run", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip(" `") for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and "`roles/" in line]
    table = {(r[0].split(" (")[0], r[1], r[3]) for r in rows}
    identities = {"submitter": doctor.SUBMITTER, "pipeline service account": doctor.PIPELINE_ACCOUNT,
                  "deployed model's service account": doctor.DEPLOYED_MODEL}
    expected = {(who, g.role, g.why) for who, grants in identities.items() for g in grants}
    assert table == expected
    enabled = re.search(r"gcloud services enable (.*?) --project", section.replace("\\\n", " "), re.S)
    assert enabled and enabled.group(1).split() == list(doctor.APIS)


def test_doctor_is_not_embedded_in_pipeline_steps():
    """CLI-only code stays out of the core that travels inside every step's command (its size is bounded)."""
    import components
    from components._runtime import embedded_files

    embedded = {path for name in components.__all__ for path in embedded_files(getattr(components, name))}
    assert "vllm_vertex/cloud/auth.py" in embedded  # the steps' clients use it
    assert not [p for p in embedded if p.startswith(("vllm_vertex/doctor/", "vllm_vertex/commands/"))]


def test_gs_model_folder_and_model_service_account(standin, tmp_path):
    ready(standin)
    model_account = "model-runner@my-project.iam.gserviceaccount.com"
    run_file = tmp_path / "run.yaml"
    run_file.write_text(pathlib.Path(TEXT).read_text() + "\nmodel_id: gs://weights/llama-3.1-8b-instruct\n")
    run_file.write_text(run_file.read_text().replace('service_account: ""', f"service_account: {model_account}"))
    cloud = standin.cloud
    cloud.add_bucket(PROJECT, "weights")
    result = invoke(standin, "doctor", str(run_file))
    assert result.exit_code == 1
    assert fix_after(result.output, f"the deployed model's service account {model_account} does not exist") == (
        'gcloud iam service-accounts create model-runner --project my-project --display-name "vllm-vertex pipelines"')
    assert fix_after(result.output, "cannot read gs://weights") == (
        f"gcloud storage buckets add-iam-policy-binding gs://weights --member=serviceAccount:{model_account} "
        "--role=roles/storage.objectViewer")
    cloud.add_service_account(PROJECT, model_account)
    result = invoke(standin, "doctor", str(run_file))
    assert fix_after(result.output, f"may not act as {model_account}") == (
        f"gcloud iam service-accounts add-iam-policy-binding {model_account} --project my-project "
        f"--member=serviceAccount:{ACCOUNT} --role=roles/iam.serviceAccountUser")
    cloud.grant(model_account, f"serviceAccount:{ACCOUNT}", "roles/iam.serviceAccountUser")
    cloud.grant("buckets/weights", f"serviceAccount:{model_account}", "roles/storage.objectViewer")
    result = invoke(standin, "doctor", str(run_file))
    assert fix_after(result.output, f"{ACCOUNT} (preflight reads the model's config) cannot read gs://weights") == (
        f"gcloud storage buckets add-iam-policy-binding gs://weights --member=serviceAccount:{ACCOUNT} "
        "--role=roles/storage.objectViewer")
    cloud.grant("buckets/weights", f"serviceAccount:{ACCOUNT}", "roles/storage.objectViewer")
    result = invoke(standin, "doctor", str(run_file))
    assert result.exit_code == 0, result.output
    ok = lines_of(result.output, "ok")
    assert f"{ACCOUNT} may read the model folder in gs://weights (preflight)" in ok
    assert f"{ACCOUNT} may deploy as {model_account}" in ok
    assert f"{model_account} may read the model folder in gs://weights" in ok


def test_user_credentials_without_quota_project(standin):
    from vllm_vertex.doctor import Inputs
    from vllm_vertex.doctor.checks import run

    ready(standin)
    checks = {c.name: c for c in run(Inputs(PROJECT, REGION, quota_project=""))}
    assert checks["quota-project"].status == "missing"
    assert checks["quota-project"].fix == "gcloud auth application-default set-quota-project my-project"
    checks = {c.name: c for c in run(Inputs(PROJECT, REGION, quota_project=PROJECT))}
    assert checks["quota-project"].status == "ok"
    assert "quota-project" not in {c.name for c in run(Inputs(PROJECT, REGION))}  # a service account


def test_fix_with_json_keeps_stdout_json(standin):
    ready(standin)
    standin.cloud.services[PROJECT].discard("logging.googleapis.com")
    result = invoke(standin, "doctor", TEXT, "--fix", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # the fixes are reported on stderr
    assert data["ok"] and data["fixed"] == ["api:logging.googleapis.com"]
    assert "fixing: gcloud services enable logging.googleapis.com --project my-project" in result.stderr


def test_doctor_runs_without_google_api_python_client(standin):
    """doctor's clients are the light per-service ones: it checks and fixes a project with googleapiclient absent.

    google-api-python-client (111 MB installed) is only a test dependency: the stand-in reads its discovery documents.
    """
    import os
    import subprocess
    import sys
    import tomllib

    from tests.cli_support import ROOT
    from vllm_vertex.cloud.context import API_ENDPOINT_ENV

    ready(standin)
    standin.cloud.services[PROJECT].discard("logging.googleapis.com")  # --fix enables it: Service Usage's LRO
    blocked = ("import sys; sys.modules['googleapiclient'] = None; from vllm_vertex.cli import main; "
               "main(sys.argv[1:])")
    env = {**os.environ, API_ENDPOINT_ENV: standin.url, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", blocked, "doctor", TEXT, "--fix", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fixed"] == ["api:logging.googleapis.com"]
    assert "logging.googleapis.com" in standin.cloud.services[PROJECT]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("google-api-python-client")]
    assert [d for d in project["optional-dependencies"]["test"] if d.startswith("google-api-python-client")]


def test_staged_weights_bucket_written_by_the_pipeline_and_only_read_by_the_model(standin, tmp_path):
    ready(standin)
    model_account = "model-runner@my-project.iam.gserviceaccount.com"
    run_file = tmp_path / "run.yaml"
    run_file.write_text(pathlib.Path(TEXT).read_text() + "\nstage_weights_to: gs://weights-cache/hf\n")
    run_file.write_text(run_file.read_text().replace('service_account: ""', f"service_account: {model_account}"))
    cloud = standin.cloud
    cloud.add_bucket(PROJECT, "weights-cache")
    cloud.add_service_account(PROJECT, model_account)
    cloud.grant(model_account, f"serviceAccount:{ACCOUNT}", "roles/iam.serviceAccountUser")
    result = invoke(standin, "doctor", str(run_file))
    assert result.exit_code == 1
    assert fix_after(result.output, f"{ACCOUNT} (stage-weights) cannot write gs://weights-cache") == (
        f"gcloud storage buckets add-iam-policy-binding gs://weights-cache --member=serviceAccount:{ACCOUNT} "
        "--role=roles/storage.objectUser")
    assert fix_after(result.output, f"{model_account} (the deployed model's identity) cannot read gs://weights-cache") == (
        f"gcloud storage buckets add-iam-policy-binding gs://weights-cache --member=serviceAccount:{model_account} "
        "--role=roles/storage.objectViewer")
    cloud.grant("buckets/weights-cache", f"serviceAccount:{ACCOUNT}", "roles/storage.objectUser")
    cloud.grant("buckets/weights-cache", f"serviceAccount:{model_account}", "roles/storage.objectAdmin")
    result = invoke(standin, "doctor", str(run_file), "--json")
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert result.exit_code == 0, result.output
    assert checks["weights-bucket-write"]["status"] == "ok" and checks["weights-bucket-read"]["status"] == "ok"
    assert checks["weights-bucket-read-only"]["status"] == "warning"
    assert "storage.objects.create" in checks["weights-bucket-read-only"]["detail"]
    cloud.revoke("buckets/weights-cache", f"serviceAccount:{model_account}", "roles/storage.objectAdmin")
    cloud.grant("buckets/weights-cache", f"serviceAccount:{model_account}", "roles/storage.objectViewer")
    result = invoke(standin, "doctor", str(run_file), "--json")
    assert "weights-bucket-read-only" not in {c["name"] for c in json.loads(result.output)["checks"]}
