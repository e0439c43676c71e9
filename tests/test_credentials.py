"""Credentials are checked early: the real CLI, in a new process, with no / expired / unreachable ADC.

Each case runs ``vllm-vertex`` as a user would (a subprocess, HOME and gcloud's config in a temporary
folder, no metadata server): one line naming the problem and the fix on stderr, exit 2, no traceback,
and nothing compiled or imported beyond google.auth. Times are printed by ``tests/bench_credentials.py``.
"""

from __future__ import annotations

import json

import pytest

from tests.cli_support import TEXT
from tests.fakes.oauth import (
    DELETED_KEY,
    EXPIRED,
    MetadataServer,
    TokenServer,
    closed_port,
    no_google_env,
    run_cli,
    write_authorized_user,
    write_service_account_key,
)

ENDPOINT = "projects/my-project/locations/us-central1/endpoints/1234"
WHERE = ["--project", "my-project", "--region", "us-central1"]

# Every command that needs Google, with valid local input.
GOOGLE_COMMANDS = {
    "submit": ["submit", TEXT],
    "submit --canary": ["submit", TEXT, "--canary", "--endpoint", ENDPOINT],
    "schedule create": ["schedule", "create", TEXT],
    "schedule list": ["schedule", "list", *WHERE],
    "schedule pause": ["schedule", "pause", "projects/my-project/locations/us-central1/schedules/42"],
    "schedule resume": ["schedule", "resume", "42", *WHERE],
    "schedule delete": ["schedule", "delete", "42", *WHERE],
    "smoke --endpoint": ["smoke", "--endpoint", ENDPOINT],
    "teardown --run-label": ["teardown", "--run-label", "run-1", *WHERE, "--yes"],
    "teardown --endpoint": ["teardown", "--endpoint", ENDPOINT, "--yes"],
    # doctor: without credentials it lists every check instead (tests/test_doctor_offline.py)
    "probe --endpoint": ["probe", "--endpoint", ENDPOINT, "--concurrency", "1", "--num-requests", "2"],
    "status": ["status", "projects/my-project/locations/us-central1/pipelineJobs/run-1"],
    "follow": ["follow", "projects/my-project/locations/us-central1/pipelineJobs/run-1"],
}
LOGIN = "gcloud auth application-default login"


def one_line_error(done) -> str:
    """The single stderr line (asserting there is exactly one and no traceback), without 'Error: '."""
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    return lines[0][len("Error: "):]


@pytest.fixture
def env(tmp_path):
    return no_google_env(tmp_path)


@pytest.mark.parametrize("name", list(GOOGLE_COMMANDS))
def test_no_credentials_one_line_exit_2(name, env):
    done, _ = run_cli(GOOGLE_COMMANDS[name], env)
    assert done.returncode == 2, done.stderr
    message = one_line_error(done)
    assert message.startswith("no Google credentials found") and LOGIN in message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message  # the CI route
    assert done.stdout == ""  # nothing compiled, nothing submitted


def test_bad_input_is_reported_before_credentials(env, tmp_path):
    bad = tmp_path / "run.yaml"
    bad.write_text("preset: llama-3.1-8b-instruct\nproject: my-project\nregion: us-central1\nmax_model_lenn: 4096\n")
    done, _ = run_cli(["submit", str(bad)], env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "Did you mean 'max_model_len'" in done.stderr and LOGIN not in done.stderr
    no_root = tmp_path / "no-root.yaml"
    no_root.write_text("preset: llama-3.1-8b-instruct\nproject: my-project\nregion: us-central1\n")
    done, _ = run_cli(["submit", str(no_root)], env)
    assert done.returncode == 2 and "pipeline_root" in done.stderr and LOGIN not in done.stderr
    done, _ = run_cli(["schedule", "list", "--project", "my-project"], env)
    assert done.returncode == 2 and "--region" in done.stderr and LOGIN not in done.stderr
    done, _ = run_cli(["smoke", "--endpoint", "not/a/valid/name"], env)
    assert done.returncode == 2 and LOGIN not in done.stderr


def test_no_credentials_does_not_compile_or_import_heavy_clients(env):
    code = (
        "import sys\nfrom vllm_vertex.cli import main\n"
        f"try:\n    main(['submit', {TEXT!r}])\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('kfp', 'google.cloud.aiplatform', 'google.cloud.aiplatform_v1', 'pipelines') if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    import subprocess
    import sys

    from tests.fakes.oauth import ROOT

    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr


def test_expired_gcloud_adc_file(env):
    write_authorized_user(env)
    with TokenServer() as tokens:
        tokens.answer = (400, EXPIRED)
        done, _ = run_cli(["submit", TEXT], env, token_uri=tokens.url)
    assert tokens.grants == ["refresh_token"]  # the refresh token went to the token endpoint once
    assert done.returncode == 2
    message = one_line_error(done)
    assert "expired or revoked" in message and "Token has been expired or revoked." in message and LOGIN in message


def test_revoked_service_account_key(env, tmp_path):
    with TokenServer() as tokens:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(write_service_account_key(tmp_path, tokens.url))
        tokens.answer = (400, DELETED_KEY)
        done, _ = run_cli(["schedule", "list", *WHERE], env)
    assert tokens.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert done.returncode == 2
    assert "Invalid JWT Signature." in one_line_error(done)


def test_transport_error_while_refreshing(env):
    write_authorized_user(env)
    done, _ = run_cli(["teardown", "--run-label", "r", *WHERE], env, token_uri=f"http://127.0.0.1:{closed_port()}/token")
    assert done.returncode == 2
    message = one_line_error(done)
    assert message.startswith("could not reach Google to check the credentials (127.0.0.1: connection refused)")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", "points at"),
        ("not-json", "unusable"),
        ("wrong-type", "unusable"),
    ],
)
def test_unusable_credentials_file(setup, expected, env, tmp_path):
    path = tmp_path / "creds.json"
    if setup == "not-json":
        path.write_text("this is not json")
    elif setup == "wrong-type":
        path.write_text(json.dumps({"type": "something_else"}))
    env["GOOGLE_APPLICATION_CREDENTIALS"] = str(path)
    done, _ = run_cli(["smoke", "--endpoint", ENDPOINT], env)
    assert done.returncode == 2
    message = one_line_error(done)
    assert expected in message and str(path) in message and LOGIN in message


def test_debug_shows_the_traceback(env):
    done, _ = run_cli(["--debug", "schedule", "list", *WHERE], env)
    assert done.returncode == 2
    assert "Traceback" in done.stderr and "CredentialsError" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("Error: no Google credentials found")


def test_valid_credentials_are_refreshed_once_and_reused(env, tmp_path, monkeypatch):
    """check() returns refreshed credentials; every client of the process then reuses them."""
    from vllm_vertex.cloud import auth, clients

    with TokenServer() as tokens:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(write_service_account_key(tmp_path, tokens.url)))
        monkeypatch.setattr(auth, "_checked", None)
        creds, project = auth.check()
        assert creds.token == "ya29.local" and creds.valid and project == "my-project"
        assert clients.credentials() is creds
        assert tokens.grants == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]


def test_metadata_server_credentials_without_any_file(env):
    """Cloud Build, GKE, Compute Engine: no file, the metadata server gives the token.

    In a new process: google.auth reads the metadata server's address when it is first imported.
    """
    import subprocess
    import sys

    from tests.fakes.oauth import ROOT

    code = (
        "from vllm_vertex.cloud import auth, clients\n"
        "creds, project = auth.check()\n"
        "print(creds.token, project, creds.service_account_email, clients.credentials() is creds)\n"
    )
    with MetadataServer() as metadata:
        env.update(GCE_METADATA_IP=metadata.host, GCE_METADATA_HOST=metadata.host)
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["ya29.metadata", "my-project", MetadataServer.EMAIL, "True"], out.stderr
    assert metadata.paths[-1].endswith("/service-accounts/default/token")


def test_offline_override_needs_no_credentials(env):
    """The override VLLM_VERTEX_API_ENDPOINT (tests, a local stand-in) uses anonymous credentials: no check."""
    from tests.standin import VertexStandin
    from vllm_vertex.cloud.context import API_ENDPOINT_ENV

    with VertexStandin() as standin:
        done, _ = run_cli(["schedule", "list", *WHERE], {**env, API_ENDPOINT_ENV: standin.url})
    assert done.returncode == 0, done.stderr
    assert "0 schedule(s)" in done.stdout


@pytest.mark.parametrize(
    ("status", "code", "start"),
    [
        (403, 2, "Forbidden from Google Cloud: "),  # a set-up problem: a missing role
        (400, 1, "BadRequest from Google Cloud: "),  # not retried; a failed call
    ],
)
def test_api_errors_are_one_line_with_the_documented_exit_code(standin, status, code, start):
    """An API refusal after the credentials check: one line, no traceback; 403 is set-up (2), 400 a failed call (1)."""
    from tests.cli_support import invoke

    standin.faults.add("aiplatform.projects.locations.schedules.list", status=status, times=None,
                       message="Permission 'aiplatform.schedules.list' denied on resource\\nsecond line")
    result = invoke(standin, "schedule", "list", *WHERE)
    assert result.exit_code == code
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: " + start), result.output
    assert "Traceback" not in result.output
