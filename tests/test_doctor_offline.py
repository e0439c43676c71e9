"""``doctor`` without credentials: it runs what needs none (the run file, the offline capacity plan), says what is
wrong with the credentials, and lists every cloud check as "not run (needs credentials)"; --json prints it all."""

from __future__ import annotations

import json

from tests.cli_support import TEXT
from tests.fakes.oauth import no_google_env, run_cli


def test_doctor_without_credentials_lists_every_check(tmp_path):
    done, _ = run_cli(["doctor", TEXT], no_google_env(tmp_path))
    assert done.returncode == 2, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "doctor: project my-project, region us-central1"
    assert lines[1].startswith("  MISSING  no Google credentials found")  # the same one line as other commands
    assert "fix: gcloud auth application-default login" in done.stdout
    assert any(line.startswith("  ok       meta-llama/Meta-Llama-3.1-8B-Instruct fits on g2-standard-12") for line in lines)
    not_run = [line for line in lines if line.startswith("  -        not run (needs credentials)")]
    assert len(not_run) == 9 and any("GPU and CPU quota" in line for line in not_run)
    assert lines[-1] == "1 of 2 checks ok; 1 missing; 9 not run (needs credentials)"


def test_doctor_json_without_credentials_prints_the_whole_list(tmp_path):
    done, _ = run_cli(["doctor", "--project", "my-project", "--region", "us-central1", "--json"],
                      no_google_env(tmp_path))
    assert done.returncode == 2, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is False and data["project"] == "my-project"
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    assert statuses["credentials"] == "missing"
    assert [n for n, s in statuses.items() if s == "skipped"] == [
        "project", "apis", "caller", "pipeline-account", "pipeline-account-roles", "bucket", "secret", "model-bucket",
        "quota"]
    assert all(c["detail"].startswith("not run (needs credentials)") for c in data["checks"] if c["status"] == "skipped")


def test_bad_input_is_still_refused_before_the_list(tmp_path):
    done, _ = run_cli(["doctor", "--project", "my-project", "--region", "us-central9"], no_google_env(tmp_path))
    assert done.returncode == 2 and "not run" not in done.stdout and "us-central9" in done.stderr
