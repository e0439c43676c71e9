"""``submit --dry-run`` / ``schedule create --dry-run``: validate, plan and compile locally, print what would
be sent (secrets masked), exit 0 — without credentials and without any network call."""

from __future__ import annotations

import json
import socket

import pytest
import yaml
from click.testing import CliRunner

from tests.cli_support import MULTIMODAL, TEXT, invoke
from tests.fakes.oauth import no_google_env, run_cli
from vllm_vertex.cli import main
from vllm_vertex.commands._dry import describe
from vllm_vertex.configfile import PipelineSettings, ScheduleSettings

pytestmark = pytest.mark.timeout(120)

TOKEN = "hf_" + "Qz8" * 12  # a planted Hugging Face token


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No Google credentials anywhere and every socket connection refused: a dry run must not need either."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    attempts: list = []

    def refuse(sock, address, *args):
        attempts.append(address)
        raise OSError(f"dry run tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts


def _dry(*args: str):
    return CliRunner().invoke(main, [*args, "--dry-run"], catch_exceptions=False)


def _run_file(tmp_path, source: str, **edit) -> str:
    data = {**yaml.safe_load(open(source)), **edit}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_submit_dry_run_prints_the_run_without_credentials_or_network(offline):
    result = _dry("submit", TEXT)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dry run: would create this pipeline run in projects/my-project/locations/us-central1" in out
    assert "display name: llama-3-1-8b-nightly" in out
    assert "job id pattern: vllm-deploy-and-verify-YYYYmmddHHMMSS-xxxxxx" in out
    assert "pipeline root: gs://my-bucket/vllm-vertex/pipeline-root" in out
    assert "service account: pipeline-runner@my-project.iam.gserviceaccount.com" in out
    assert "labels: managed-by=vllm-vertex, team=ml-platform" in out
    assert 'model_id: "meta-llama/Meta-Llama-3.1-8B-Instruct"' in out and "max_model_len: 4096" in out
    assert 'hf_token_secret: "projects/my-project/secrets/hf-token/versions/latest"' in out
    assert "nothing was sent" in out and "submitted" not in out
    assert offline == [] and TOKEN not in out


def test_submit_dry_run_json_is_one_object_with_the_parameter_values(offline):
    result = _dry("submit", TEXT, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    assert got["dry_run"] is True and got["parent"] == "projects/my-project/locations/us-central1"
    assert got["labels"] == {"managed-by": "vllm-vertex", "team": "ml-platform"}
    assert got["parameter_values"]["max_model_len"] == 4096
    assert got["parameter_values"]["labels"] == {"team": "ml-platform", "purpose": "nightly-check"}
    assert got["enable_caching"] is False and "schedule" not in got
    assert offline == []


def test_schedule_create_dry_run_prints_cron_and_concurrency(offline):
    result = _dry("schedule", "create", MULTIMODAL, "--cron", "TZ=Etc/UTC 15 4 * * 1")
    assert result.exit_code == 0, result.output
    assert "dry run: would create this schedule" in result.output
    assert "cron 'TZ=Etc/UTC 15 4 * * 1', at most 1 run(s) at once" in result.output
    assert "multimodal: true" in result.output and "job id pattern" not in result.output
    assert offline == []


def test_dry_run_sends_nothing_to_the_standin(standin):
    for args in (["submit", TEXT], ["schedule", "create", TEXT]):
        result = invoke(standin, *args, "--dry-run")
        assert result.exit_code == 0, result.output
    assert standin.requests == []
    real = invoke(standin, "submit", TEXT)  # the same command without --dry-run does reach it
    assert real.exit_code == 0, real.output
    assert standin.requests != []


def test_a_run_that_cannot_fit_still_exits_2_under_dry_run(offline, tmp_path):
    run = _run_file(tmp_path, MULTIMODAL, max_num_seqs=256)
    for args in (["submit", run], ["schedule", "create", run]):
        result = _dry(*args)
        assert result.exit_code == 2, result.output
        assert "[multimodal_profile_risk]" in result.output and "would create" not in result.output
    assert offline == []


def test_dry_run_with_wait_is_refused():
    result = CliRunner().invoke(main, ["submit", TEXT, "--dry-run", "--wait"])
    assert result.exit_code == 2 and "--dry-run sends nothing" in result.output


def test_dry_run_with_no_credentials_in_a_fresh_process(tmp_path):
    """The real CLI in a process with no Google credentials: the dry run succeeds, the real one is refused."""
    env = no_google_env(tmp_path)
    env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "missing.json")
    done, seconds = run_cli(["schedule", "create", TEXT, "--dry-run"], env, timeout=110)
    print(f"dry run of schedule create: {seconds:.2f} s (process start and compiling included)")
    assert done.returncode == 0, done.stderr
    assert "cron 'TZ=Etc/UTC 0 3 * * *'" in done.stdout and "max_model_len: 4096" in done.stdout
    refused, _ = run_cli(["schedule", "create", TEXT], env, timeout=110)
    assert refused.returncode == 2 and "would create" not in refused.stdout


def test_planted_tokens_are_masked_and_never_printed(offline, tmp_path):
    # a run file carrying one is refused (exit 2) with the token masked
    run = _run_file(tmp_path, TEXT, smoke_prompt=f"say {TOKEN}")
    result = _dry("submit", run, "--json")
    assert result.exit_code == 2 and TOKEN not in result.output and "looks like a token" in result.output
    # and whatever reaches the description (a value, a label, a setting) is masked there too
    from pipelines import compile_pipeline
    from vllm_vertex.cloud.jobs import Submission
    from vllm_vertex.config import from_preset

    template = str(compile_pipeline(from_preset("llama-3.1-8b-instruct", project="my-project"), tmp_path / "p.yaml"))
    values = {"smoke_prompt": f"say {TOKEN}", "extra_vllm_args": [f"--hf-token={TOKEN}"], "max_model_len": 8}
    settings = PipelineSettings(pipeline_root="gs://b/r", display_name=TOKEN, labels={"team": TOKEN})
    sub = Submission(template, values, "p", "us-central1", settings)
    for described in (describe(sub), describe(sub, ScheduleSettings(cron="0 3 * * *"))):
        text = json.dumps(described)
        assert TOKEN not in text and text.count("hf_****") >= 4
        assert described["parameter_values"]["max_model_len"] == 8
