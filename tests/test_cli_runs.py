"""``submit`` (follow, exit codes, cancel) and ``schedule`` against the stand-in's pipelineJobs and schedules."""

import pytest
import yaml

from tests.cli_support import MULTIMODAL, PROJECT, TEXT, WHERE, invoke, posts
from tests.standin.pipeline_jobs import pipelines, run_script
from vllm_vertex.cloud import jobs
from vllm_vertex.cloud.context import API_ENDPOINT_ENV

pytestmark = pytest.mark.timeout(120)


def _submit(standin, *args, input=None):
    return invoke(standin, "submit", *args, "--poll-seconds", "0", input=input)


def test_submit_prints_the_run_and_sends_one_job_with_caching_off(standin):
    result = _submit(standin, TEXT)
    assert result.exit_code == 0, result.output
    assert "console: https://console.cloud.google.com/vertex-ai/locations/us-central1/pipelines/runs/" in result.output
    assert "run label: vllm-deploy-and-verify-" in result.output
    assert len(posts(standin, "/pipelineJobs")) == 1
    body = pipelines(standin).created[0]
    assert body["displayName"] == "llama-3-1-8b-nightly"
    assert body["labels"] == {"team": "ml-platform", "managed-by": "vllm-vertex"}
    assert body["serviceAccount"] == "pipeline-runner@my-project.iam.gserviceaccount.com"
    assert body["runtimeConfig"]["gcsOutputDirectory"] == "gs://my-bucket/vllm-vertex/pipeline-root"
    values = body["runtimeConfig"]["parameterValues"]
    assert values["project"] == PROJECT and values["teardown_policy"] == "always"
    assert not {"api_endpoint", "hf_endpoint"} & set(values)  # the override is the environment's, never a parameter
    tasks = body["pipelineSpec"]["root"]["dag"]["tasks"]
    assert all(t["cachingOptions"] == {} or t["cachingOptions"].get("enableCache") is False for t in tasks.values())


def test_submit_wait_follows_task_changes_and_passes(standin):
    result = _submit(standin, TEXT, "--wait")
    assert result.exit_code == 0, result.output
    lines = [line.split("] ", 1)[-1] for line in result.output.splitlines()]
    for expected in ("run: PENDING", "validate-config: RUNNING", "place-and-deploy: SUCCEEDED (took 0s)", "run: SUCCEEDED"):
        assert expected in lines
    assert lines.index("place-and-deploy: RUNNING") < lines.index("smoke-test: RUNNING") < lines.index("run: SUCCEEDED")
    assert "smoke tests: passed" in lines and "  checks_passed: 3" in lines


def test_failed_smoke_test_fails_the_command(standin):
    pipelines(standin).script = run_script(verdict="failed", figures={"checks_passed": 1.0, "checks_failed": 2.0})
    result = _submit(standin, TEXT, "--wait")
    assert result.exit_code == 1
    assert "smoke tests: failed" in result.output and "checks_failed: 2" in result.output
    assert "check-verdict: FAILED (took 0s) — smoke tests failed" in result.output


def test_failed_task_fails_the_command_with_its_error(standin):
    pipelines(standin).script = run_script(fail_at="place-and-deploy")
    result = _submit(standin, TEXT, "--wait")
    assert result.exit_code == 1
    assert "place-and-deploy: FAILED (took 0s) — place-and-deploy failed" in result.output
    assert "run FAILED: The DAG failed" in result.output and "smoke tests: did not run" in result.output


def test_ctrl_c_asks_and_cancels(standin, monkeypatch):
    def interrupt(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "_pause", interrupt)
    result = _submit(standin, TEXT, "--wait", input="y\n")
    assert result.exit_code == 130
    assert "Cancel run projects/" in result.output and "cancel requested" in result.output
    assert len(posts(standin, ":cancel")) == 1
    name = next(iter(pipelines(standin).jobs))
    monkeypatch.undo()
    monkeypatch.setenv(API_ENDPOINT_ENV, standin.url)
    final = jobs.follow(name, log=lambda _line: None, poll_seconds=0)
    assert final.state.name == "PIPELINE_STATE_CANCELLED"


def test_ctrl_c_declined_leaves_the_run(standin, monkeypatch):
    monkeypatch.setattr(jobs, "_pause", lambda _s: (_ for _ in ()).throw(KeyboardInterrupt))
    result = _submit(standin, TEXT, "--wait", input="n\n")
    assert result.exit_code == 130 and "the run goes on" in result.output
    assert posts(standin, ":cancel") == []


def test_canary_submission_checks_the_endpoint_of_the_file(standin):
    result = _submit(standin, MULTIMODAL, "--canary")
    assert result.exit_code == 0, result.output
    body = pipelines(standin).created[0]
    assert body["pipelineSpec"]["pipelineInfo"]["name"] == "vllm-canary"
    values = body["runtimeConfig"]["parameterValues"]
    assert values["endpoint"] == "projects/my-project/locations/us-central1/endpoints/1234567890"
    assert values["run_image_checks"] is True and "teardown_policy" not in values


def test_given_yaml_is_submitted_and_a_mismatched_one_is_refused(standin, tmp_path):
    assert invoke(None, "compile", "--out", str(tmp_path)).exit_code == 0
    result = _submit(standin, TEXT, "--yaml", str(tmp_path / "vllm-deploy-multimodal.yaml"))
    assert result.exit_code == 0, result.output
    spec = pipelines(standin).created[0]["pipelineSpec"]
    default = spec["root"]["inputDefinitions"]["parameters"]["model_id"]["defaultValue"]
    assert default == "meta-llama/Llama-3.2-11B-Vision-Instruct"  # the given file, with the run file's values
    wrong = _submit(standin, TEXT, "--yaml", str(tmp_path / "vllm-canary.yaml"))
    assert wrong.exit_code == 2 and "Error:" in wrong.output
    assert len(pipelines(standin).created) == 1


@pytest.mark.parametrize(
    ("edit", "text"),
    [
        ({"hf_token_secret": "hf_AbCdEfGhIjKlMnOpQrStUvWx"}, "looks like a token"),
        ({"project": None}, "project: has no value"),
        ({"pipeline": {}}, "pipeline.pipeline_root: is missing"),
    ],
)
def test_bad_run_file_exits_2_and_sends_nothing(standin, tmp_path, edit, text):
    data = {**yaml.safe_load(open(TEXT)), **edit}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    result = _submit(standin, str(path), "--wait")
    assert result.exit_code == 2
    assert text in result.output
    assert "hf_AbCd" not in result.output
    assert standin.requests == []


def test_unparsable_and_missing_files_exit_2(standin, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("project: [p\n")
    assert "not valid YAML at line" in _submit(standin, str(bad)).output
    assert _submit(standin, str(bad)).exit_code == 2
    assert _submit(standin, str(tmp_path / "none.yaml")).exit_code == 2
    assert standin.requests == []


def test_schedule_create_list_pause_resume_delete(standin, virtual_clock):
    created = invoke(standin, "schedule", "create", TEXT)
    assert created.exit_code == 0, created.output
    assert "cron 'TZ=Etc/UTC 0 3 * * *', at most 1 run(s) at once" in created.output
    name, schedule = next(iter(pipelines(standin).schedules.items()))
    assert schedule["maxConcurrentRunCount"] == "1"  # int64: a JSON string
    job = schedule["createPipelineJobRequest"]["pipelineJob"]
    assert job["runtimeConfig"]["parameterValues"]["model_id"] == "meta-llama/Meta-Llama-3.1-8B-Instruct"

    listed = invoke(standin, "schedule", "list", *WHERE)
    assert f"{name}  ACTIVE  'TZ=Etc/UTC 0 3 * * *'" in listed.output and "1 schedule(s)" in listed.output
    assert invoke(standin, "schedule", "pause", name).exit_code == 0
    assert pipelines(standin).schedules[name]["state"] == "PAUSED"
    again = invoke(standin, "schedule", "pause", name)
    assert again.exit_code == 1 and "is PAUSED, not ACTIVE" in again.output
    schedule_id = name.rsplit("/", 1)[-1]
    assert invoke(standin, "schedule", "resume", schedule_id, *WHERE).exit_code == 0
    assert pipelines(standin).schedules[name]["state"] == "ACTIVE"
    standin.faults.add("get_operation", status=503)  # the first poll of the delete operation: try again later
    deleted = invoke(standin, "schedule", "delete", name)
    assert deleted.exit_code == 0, deleted.output
    assert pipelines(standin).schedules == {}
    assert virtual_clock.slept  # the poll waited by vllm_vertex.clock (virtual time), not api_core's time.sleep
    assert "0 schedule(s)" in invoke(standin, "schedule", "list", *WHERE).output


def test_schedule_cron_override_and_canary(standin):
    result = invoke(standin, "schedule", "create", MULTIMODAL, "--canary", "--cron", "*/30 * * * *")
    assert result.exit_code == 0, result.output
    schedule = next(iter(pipelines(standin).schedules.values()))
    assert schedule["cron"] == "*/30 * * * *"
    assert schedule["createPipelineJobRequest"]["pipelineJob"]["pipelineSpec"]["pipelineInfo"]["name"] == "vllm-canary"


@pytest.mark.parametrize(
    ("cron", "text"),
    [
        ("61 * * * *", "'61' is not a valid minute field: minute takes 0-59."),
        ("0 24 * * *", "'24' is not a valid hour field: hour takes 0-23."),
        ("0 3 0 * *", "'0' is not a valid day-of-month field: day-of-month takes 1-31."),
        ("0 3 * 13 *", "'13' is not a valid month field: month takes 1-12 or jan-dec."),
        ("0 3 * * 8", "'8' is not a valid day-of-week field"),
        ("TZ=Europe/Paris */0 * * * *", "'*/0' is not a valid minute field"),
        ("every day", "has 2 field(s); a cron has five: minute hour day-of-month month day-of-week"),
        ("0 3 * * * *", "has 6 field(s)"),
        ("TZ=Mars/Base 0 3 * * *", "is not an IANA time zone"),
    ],
)
def test_invalid_cron_names_the_field_exits_2_and_sends_nothing(standin, cron, text):
    result = invoke(standin, "schedule", "create", TEXT, "--cron", cron)
    assert result.exit_code == 2 and text in result.output, result.output
    assert "schedule.cron" in result.output and "Traceback" not in result.output
    assert standin.requests == []


def test_schedule_commands_need_a_location(standin):
    result = invoke(standin, "schedule", "list", "--project", PROJECT)
    assert result.exit_code == 2 and "--region missing" in result.output
    result = invoke(standin, "schedule", "pause", "123")
    assert result.exit_code == 2 and "needs the project and region" in result.output
    assert standin.requests == []
