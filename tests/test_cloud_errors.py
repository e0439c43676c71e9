"""Secret Manager and Cloud Quotas errors become messages that say what is wrong and the fix."""

from __future__ import annotations

import pytest

from vllm_vertex.cloud.quotas import check_quotas
from vllm_vertex.cloud.secrets import SecretError, read_secret
from vllm_vertex.config import from_preset

PROJECT = "my-proj"
TOKEN = "hf_" + "T0k3n" * 7
NAME = f"projects/{PROJECT}/secrets/hf-token"


pytestmark = pytest.mark.standin(secrets={NAME: TOKEN})


def _read(standin, version: str = "latest") -> str:
    return read_secret(f"{NAME}/versions/{version}")


def test_reads_the_token(standin):
    assert _read(standin) == TOKEN and _read(standin, "1") == TOKEN


def test_403_arrives_as_forbidden_and_names_the_role_and_command(standin):
    standin.faults.add("secret", status=403,
                       message=f"Permission 'secretmanager.versions.access' denied for resource '{NAME}/versions/1'")
    with pytest.raises(SecretError) as info:
        _read(standin)
    text = str(info.value)
    assert "no access to projects/my-proj/secrets/hf-token/versions/latest" in text
    assert "roles/secretmanager.secretAccessor" in text
    assert "gcloud secrets add-iam-policy-binding hf-token --project=my-proj" in text


@pytest.mark.parametrize(
    ("state", "says", "fix"),
    [
        ("DISABLED", "is disabled", "gcloud secrets versions enable 2 --secret=hf-token --project=my-proj"),
        ("DESTROYED", "is destroyed", "gcloud secrets versions add hf-token --project=my-proj"),
    ],
)
def test_disabled_or_destroyed_version_says_which_and_the_fix(standin, state, says, fix):
    standin.add_secret(NAME, TOKEN)
    standin.set_secret_state(NAME, 2, state)
    with pytest.raises(SecretError) as info:
        _read(standin)
    text = str(info.value)
    assert f"/secrets/hf-token/versions/2 {says}" in text and fix in text  # the server names the project by number
    assert "versions/latest is the newest version whatever its state" in text
    assert _read(standin, "1") == TOKEN
    with pytest.raises(SecretError) as info:
        _read(standin, "2")
    assert "whatever its state" not in str(info.value)


@pytest.mark.parametrize("payload", ["", "  \n"])
def test_empty_secret_says_the_secret_is_empty(standin, payload):
    standin.add_secret(NAME, payload)
    with pytest.raises(SecretError, match=r"the secret is empty: .*/versions/2 holds no data") as info:
        _read(standin)
    assert "no HF token was given" not in str(info.value)


def test_upload_step_reports_the_empty_secret(standin):
    from tests.steps import place

    standin.add_secret(NAME, "")
    cfg = from_preset("llama-3.1-8b-instruct", project=PROJECT, hf_token_secret=f"{NAME}/versions/latest")
    with pytest.raises(SecretError, match="the secret is empty"):
        place(cfg.to_json(), "r")
    assert standin.resources()["models"] == {}


SERVICE_DISABLED = [
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "domain": "googleapis.com",
        "metadata": {"service": "cloudquotas.googleapis.com", "consumer": "projects/123456789012"},
    }
]


@pytest.mark.parametrize(
    "message",
    [
        "Cloud Quotas API has not been used in project 123456789012 before or it is disabled. Enable it by "
        "visiting https://console.developers.google.com/apis/api/cloudquotas.googleapis.com/overview?project="
        "123456789012 then retry.",
        "The caller does not have permission",  # the ErrorInfo reason alone is enough
    ],
)
def test_quota_api_disabled_names_the_api_and_the_command(standin, message):
    standin.faults.add("quota", status=403, details=SERVICE_DISABLED, message=message)
    from vllm_vertex.cloud.quotas import QuotaError

    with pytest.raises(QuotaError) as info:
        check_quotas(from_preset("llama-3.1-8b-instruct", project=PROJECT), log=lambda _line: None)
    text = str(info.value)
    assert "the cloudquotas.googleapis.com API is not enabled in project my-proj" in text
    assert "gcloud services enable cloudquotas.googleapis.com --project=my-proj" in text


def test_quota_403_without_service_disabled_names_the_role(standin):
    standin.faults.add("quota", status=403, message="Permission 'cloudquotas.quotas.get' denied")
    from vllm_vertex.cloud.quotas import QuotaError

    with pytest.raises(QuotaError, match="roles/cloudquotas.viewer"):
        check_quotas(from_preset("llama-3.1-8b-instruct", project=PROJECT), log=lambda _line: None)
