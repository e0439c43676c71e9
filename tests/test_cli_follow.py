"""Finishing a run for the user: the end of ``submit --wait``, ``status RUN``, ``follow RUN``, deploy stages, ``--json``.

Against the stand-in: its pipelineJobs play scripted frames (tests/standin/pipeline_jobs.py) and
its endpoints are real (deployed with the product's own code), so the deploy stages a follower
reads come from a real deploy operation's metadata.
"""

import json

import pytest
import yaml

from tests.cli_support import PROJECT, TEXT, WHERE, deploy, invoke
from tests.standin import FakeBackend, VertexStandin
from tests.standin.pipeline_jobs import pipelines, run_script
from vllm_vertex import naming
from vllm_vertex.cloud import jobs

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def standin():
    with VertexStandin(FakeBackend(), health_timeout=5) as s:
        yield s
        assert s.response_errors == []


@pytest.fixture
def on_failure_run(tmp_path) -> str:
    """The text example with the default policy, on_failure: a passing run keeps its deployment."""
    data = yaml.safe_load(open(TEXT))
    data["teardown_policy"] = "on_failure"
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


_TEMPLATE: list[str] = []  # one compiled pipeline for the module's runs (values are sent as parameters)


@pytest.fixture(scope="module", autouse=True)
def _compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    assert invoke(None, "compile", "--out", str(out)).exit_code == 0
    _TEMPLATE[:] = [str(out / "vllm-deploy-text.yaml")]


def _submit(standin, *args, input=None):
    return invoke(standin, "submit", *args, "--yaml", _TEMPLATE[0], "--poll-seconds", "0", input=input)


def test_wait_ends_with_the_endpoint_how_to_use_it_the_report_and_what_is_kept(standin, on_failure_run):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    result = _submit(standin, on_failure_run, "--wait")
    assert result.exit_code == 0, result.output
    out = result.output
    project, endpoint_id = endpoint.name.split("/")[1], endpoint.name.rsplit("/", 1)[-1]  # Vertex names: numbers
    assert f"endpoint: {endpoint.name}" in out
    assert (f"  console: https://console.cloud.google.com/vertex-ai/online-prediction/locations/us-central1/"
            f"endpoints/{endpoint_id}?project={project}") in out  # fmt: skip
    assert f"  smoke it again: vllm-vertex smoke {endpoint.name}" in out
    assert (f'client = openai.OpenAI(base_url="https://us-central1-aiplatform.googleapis.com/v1beta1/{endpoint.name}", '
            "api_key=creds.token)") in out  # fmt: skip
    assert "report: gs://my-bucket/vllm-vertex/pipeline-root/run/smoke-test/report" in out
    assert f"KEPT (billing until removed): {endpoint.name}" in out and "on_failure keeps" in out
    assert "  cost: unknown for 1 replica(s) of g2-standard-12" in out
    name = next(iter(pipelines(standin).jobs))
    label, project = naming.run_label_value(name), name.split("/")[1]
    assert f"  remove it: vllm-vertex teardown --run-label {label} --project {project} --region us-central1" in out


def test_the_openai_snippet_runs_against_the_endpoint(standin, on_failure_run, monkeypatch):
    """The printed snippet, with the stand-in's URL and a test token, answers a chat question."""
    import google.auth

    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    out = _submit(standin, on_failure_run, "--wait").output
    lines = out.split("  call it with the openai SDK:\n", 1)[1].splitlines()
    code = "\n".join(line[4:] for line in lines if line.startswith("    "))
    code = code.replace("https://us-central1-aiplatform.googleapis.com", standin.url)

    class Creds:
        token = "test-token"

        def refresh(self, _request):
            pass

    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (Creds(), PROJECT))
    printed = []
    exec(compile(code, "snippet", "exec"), {"print": printed.append})  # noqa: S102 - the user's paste, verbatim
    assert printed and printed[0].strip()


def test_always_policy_says_nothing_is_left(standin):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    result = _submit(standin, TEXT, "--wait")
    assert result.exit_code == 0, result.output
    assert "removed: nothing left serving (teardown_policy always)" in result.output
    assert "KEPT" not in result.output and "smoke it again" not in result.output


def test_follow_shows_each_deploy_stage_as_it_happens(standin, monkeypatch):
    endpoint = deploy(standin)
    op = next(o for o in standin.state.operations.values() if "deploymentStage" in o.metadata)
    stages = iter(["STARTING_DEPLOYMENT", "STARTING_MODEL_SERVER", "STARTING_MODEL_SERVER", "SUCCESSFULLY_DEPLOYED"])

    def advance():
        stage = next(stages, "SUCCESSFULLY_DEPLOYED")
        with standin.state.lock:
            op.metadata["deploymentStage"] = stage
            op.finished = stage == "SUCCESSFULLY_DEPLOYED"

    def pause(_seconds):  # between two polls that show deploy-model running, the deploy moves on
        shown = next(iter(pipelines(standin).shown.values()), None)
        if shown is not None and shown.tasks.get("deploy-model") == "RUNNING":
            advance()

    advance()
    monkeypatch.setattr(jobs, "_pause", pause)
    pipelines(standin).script = run_script(endpoint=endpoint.name, deploy_frames=4)
    result = _submit(standin, TEXT, "--wait")
    assert result.exit_code == 0, result.output
    lines = [line.split("] ", 1)[-1] for line in result.output.splitlines()]
    shown = [line for line in lines if line.startswith("deploy-model: stage ")]
    assert shown == [
        "deploy-model: stage STARTING_DEPLOYMENT",
        "deploy-model: stage STARTING_MODEL_SERVER",
        "deploy-model: stage SUCCESSFULLY_DEPLOYED",
    ]
    assert lines.index("deploy-model: RUNNING") < lines.index(shown[0]) < lines.index("smoke-test: RUNNING")


def test_ctrl_c_then_follow_reattaches(standin, monkeypatch):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    monkeypatch.setattr(jobs, "_pause", lambda _s: (_ for _ in ()).throw(KeyboardInterrupt))
    first = _submit(standin, TEXT, "--wait", input="n\n")
    name = next(iter(pipelines(standin).jobs))
    assert first.exit_code == 130 and f"reattach with: vllm-vertex follow {name}" in first.output
    monkeypatch.undo()
    again = invoke(standin, "follow", name, "--poll-seconds", "0")
    assert again.exit_code == 0, again.output
    assert "run: SUCCEEDED" in again.output and "smoke tests: passed" in again.output
    run_id, project = name.rsplit("/", 1)[-1], name.split("/")[1]
    console = f"https://console.cloud.google.com/vertex-ai/locations/us-central1/pipelines/runs/{run_id}?project={project}"
    assert invoke(standin, "follow", console, "--poll-seconds", "0").exit_code == 0  # the console URL works too


def test_status_while_running_and_when_done(standin):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    name = json.loads(_submit(standin, TEXT, "--json").stdout)["name"]
    run_id = name.rsplit("/", 1)[-1]
    running = invoke(standin, "status", run_id, *WHERE)  # first frame: PENDING
    assert running.exit_code == 3 and running.output.startswith(f"{name}: PENDING")
    while jobs.get(name, standin.url).state.name != "PIPELINE_STATE_SUCCEEDED":
        pass
    done = invoke(standin, "status", name)
    assert done.exit_code == 0, done.output
    assert "  deploy-model: SUCCEEDED (stage SUCCESSFULLY_DEPLOYED)" in done.output
    assert "smoke tests: passed" in done.output and "removed: nothing left serving" in done.output
    data = json.loads(invoke(standin, "status", name, "--json").stdout)
    assert data["state"] == "SUCCEEDED" and data["ok"] is True and data["kept"] is False
    assert data["tasks"]["smoke-test"] == "SUCCEEDED" and data["deploy_stage"] == "SUCCESSFULLY_DEPLOYED"
    assert data["endpoint"] == endpoint.name and data["figures"]["checks_passed"] == 3


def test_failed_run_status_exits_1(standin):
    pipelines(standin).script = run_script(fail_at="deploy-model")
    name = json.loads(_submit(standin, TEXT, "--json").stdout)["name"]
    while jobs.get(name, standin.url).state.name != "PIPELINE_STATE_FAILED":
        pass
    result = invoke(standin, "status", name)
    assert result.exit_code == 1 and "run FAILED" in result.output and "smoke tests: did not run" in result.output


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["not a run"], "is not a run"),
        (["vllm-deploy-and-verify-123"], "needs the project and region"),
    ],
)
def test_status_and_follow_bad_run_exit_2_and_send_nothing(standin, args, text):
    for command in ("status", "follow"):
        result = invoke(standin, command, *args)
        assert result.exit_code == 2 and text in result.output
    assert standin.requests == []


def test_submit_json(standin, on_failure_run):
    endpoint = deploy(standin)
    pipelines(standin).script = run_script(endpoint=endpoint.name)
    quick = json.loads(_submit(standin, TEXT, "--json").stdout)
    assert set(quick) == {"name", "console", "run_label"} and quick["name"].startswith("projects/")
    waited = _submit(standin, on_failure_run, "--wait", "--json")
    assert waited.exit_code == 0
    data = json.loads(waited.stdout)  # progress went to stderr
    assert data["ok"] is True and data["kept"] is True and data["verdict"] == "passed"
    assert data["teardown_command"].startswith(f"vllm-vertex teardown --run-label {data['run_label']}")
    assert data["smoke_command"] == f"vllm-vertex smoke {endpoint.name}" and data["submitted"]["name"] == data["name"]
    assert data["usd_per_hour"] is None  # no verified price in the table


def test_schedule_list_json(standin):
    assert invoke(standin, "schedule", "create", TEXT).exit_code == 0
    rows = json.loads(invoke(standin, "schedule", "list", *WHERE, "--json").stdout)
    assert len(rows) == 1 and rows[0]["state"] == "ACTIVE" and rows[0]["cron"] == "TZ=Etc/UTC 0 3 * * *"
    assert rows[0]["max_concurrent_run_count"] == 1
