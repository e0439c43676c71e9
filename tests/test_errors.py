"""The error model: each class's exit code and fix, and ``guarded``'s mapping by class (a bug is exit 1, not 2)."""

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from vllm_vertex import errors
from vllm_vertex.commands._common import MaskingGroup, failure_for, guarded

# (the error, its exit code, the text its one line must hold: the fix)
CASES = [
    (errors.ConfigError([("max_model_len", "must be a positive integer, got 0.")]), 2, "must be a positive integer"),
    (errors.BadInput("--project missing", fix="give the Google Cloud project"), 2, "give the Google Cloud project"),
    (errors.PlanRefused("weights do not fit on 1× L4"), 2, "--no-plan skips this check"),
    (errors.PlanError("max_num_seqs must be an integer >= 1 (got 0)."), 2, "must be an integer >= 1"),
    (errors.SloError("p95_ttft=5 is not a key: write e.g. p95_ttft_ms=500"), 2, "write e.g. p95_ttft_ms=500"),
    (errors.ProbeInputError("concurrency", "give at least one level, e.g. 1,4,16"), 2, "e.g. 1,4,16"),
    (errors.EndpointNotFound("endpoint E does not exist: check the name"), 2, "check the name"),
    (errors.SetupError("Vertex AI API disabled", fix="gcloud services enable aiplatform.googleapis.com"), 2,
     "gcloud services enable aiplatform.googleapis.com"),
    (errors.CredentialsError("no Google credentials found: run `gcloud auth application-default login`"), 2,
     "gcloud auth application-default login"),
    (errors.CatalogError("Cloud Billing API disabled: enable it", setup=True), 2, "enable it"),
    (errors.CatalogError("no live price for g2-standard-8 in mars-1", fix="retry without --live-prices"), 1,
     "retry without --live-prices"),
    (errors.DeployError("deploy failed: stockout", "stockout"), 1, "stockout"),
    (errors.SecretError("secret version V does not exist. Create it or fix hf_token_secret."), 1,
     "fix hf_token_secret"),
    (errors.QuotaError("quota does not cover this deployment: ask for more"), 1, "ask for more"),
    (errors.SourceError("gated_no_access", "The repo is gated.", "accept its licence on the Hub"), 1,
     "Fix: accept its licence on the Hub"),
    (errors.TeardownError("listing refused: grant roles/aiplatform.user"), 1, "grant roles/aiplatform.user"),
    (errors.StagingError("the Hub failed (HTTP 503); files already staged are kept", fix="run again later"), 1,
     "run again later"),
    (errors.ResourcesLeft("left endpoint E: delete it by hand"), 1, "delete it by hand"),
    (errors.ProbeError("the warm-up request failed: HTTP 503"), 1, "vllm-vertex smoke"),
    (errors.PredictionFormatError("prediction is a list, expected a string"), 1, "expected a string"),
]


@pytest.mark.parametrize(("err", "code", "fix"), CASES, ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "")
def test_each_error_class_has_its_exit_code_and_its_line_has_the_fix(err, code, fix):
    failure = failure_for(err)
    assert failure.exit_code == code == err.exit_code
    assert fix in failure.message and str(err).strip() in failure.message
    assert "Traceback" not in failure.message


def test_every_error_class_is_covered_and_derives_from_the_base():
    classes = {getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)}
    assert all(issubclass(c, errors.VllmVertexError) for c in classes)
    assert {type(err) for err, _, _ in CASES} | {errors.VllmVertexError} == classes


def test_a_fix_already_in_the_message_is_not_repeated():
    err = errors.SourceError("missing_config", "config.json is missing.", "pass --model-config PATH")
    assert err.user_message().count("pass --model-config PATH") == 1
    assert errors.BadInput("x").user_message() == "x"  # no fix: the message alone


def test_errors_that_were_value_or_runtime_errors_still_are():
    assert isinstance(errors.ConfigError([]), ValueError) and isinstance(errors.PlanError("x"), ValueError)
    assert isinstance(errors.DeployError("x"), RuntimeError) and isinstance(errors.ResourcesLeft("x"), RuntimeError)


def test_the_errors_module_imports_nothing_outside_the_standard_library():
    code = (
        "import sys; before = set(sys.modules); import vllm_vertex.errors; "
        "print(sorted(m for m in set(sys.modules) - before if not m.startswith('vllm_vertex')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _cli(raise_it, *args, env=None):
    @click.group(cls=MaskingGroup)
    @click.option("--debug", is_flag=True)
    def main(debug):
        pass

    @main.command()
    @guarded
    def go():
        raise_it()

    return CliRunner().invoke(main, [*args, "go"], env=env or {"VLLM_VERTEX_DEBUG": ""})


def _bug():
    int("not a number")  # a bare ValueError from a bug


def test_a_bugs_value_error_exits_1_in_one_line_not_2():
    result = _cli(_bug)
    assert result.exit_code == 1
    assert "unexpected ValueError: invalid literal for int()" in result.output and "bug" in result.output
    assert "Traceback" not in result.output and "--debug" in result.output


@pytest.mark.parametrize("exc", [TypeError("unsupported operand"), KeyError("k"), AttributeError("x")])
def test_other_bugs_exit_1_too(exc):
    def raise_it():
        raise exc

    result = _cli(raise_it)
    assert result.exit_code == 1 and f"unexpected {type(exc).__name__}" in result.output


def test_debug_shows_a_bugs_traceback():
    result = _cli(_bug, "--debug")
    assert result.exit_code == 1 and "Traceback (most recent call last)" in result.output
    assert "int(\"not a number\")" in result.output


def test_our_error_through_the_cli_prints_error_and_fix_with_its_exit_code_and_masks_a_token():
    token = "hf_" + "a1B2c3D4e5F6g7H8i9J0"

    def raise_it():
        raise errors.BadInput(f"model_id {token} is not a repo id", fix="give org/name, e.g. google/gemma-3-4b-it")

    result = _cli(raise_it)
    assert result.exit_code == 2
    assert result.output.startswith("Error: model_id ") and "Fix: give org/name" in result.output
    assert token not in result.output and "Traceback" not in result.output


def test_google_errors_keep_their_named_messages():
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth_errors

    denied = failure_for(api.PermissionDenied("caller lacks aiplatform.endpoints.list"))
    assert denied.exit_code == 2 and denied.message.startswith("PermissionDenied from Google Cloud: ")
    assert failure_for(api.Unauthenticated("request had invalid authentication credentials")).exit_code == 2
    missing = failure_for(api.NotFound("endpoint 7 not found"))
    assert missing.exit_code == 1 and missing.message.startswith("NotFound from Google Cloud: ")
    refresh = failure_for(auth_errors.RefreshError("('invalid_grant: Token has been expired or revoked.', {})"))
    assert refresh.exit_code == 2 and "gcloud auth application-default login" in refresh.message


def test_not_reaching_google_is_set_up():
    import requests

    failure = failure_for(requests.exceptions.ConnectTimeout("oauth2.googleapis.com timed out"))
    assert failure.exit_code == 2 and "check the network or proxy" in failure.message
