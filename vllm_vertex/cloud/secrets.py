"""Reads the Hugging Face token from Secret Manager at run time. The value is never logged."""

from __future__ import annotations

import re
import shlex

from vllm_vertex.cloud import clients
from vllm_vertex.errors import SecretError

__all__ = ["read_secret"]


def _parts(version_name: str) -> tuple[str, str]:
    """(project, secret) of ``projects/P/secrets/S/versions/V``."""
    m = re.match(r"projects/([^/]+)/(?:locations/[^/]+/)?secrets/([^/]+)", version_name)
    return (m.group(1), m.group(2)) if m else ("PROJECT", "SECRET")


def read_secret(version_name: str) -> str:
    """The payload of a secret version ``projects/P/secrets/S/versions/V`` as text.

    Raises:
        SecretError: the version does not exist, cannot be accessed (403), is disabled or destroyed
            (400 FAILED_PRECONDITION), or is empty; each with the fix (the value is never included).
    """
    from google.api_core import exceptions

    project, secret = _parts(version_name)
    q_project, q_secret = shlex.quote(project), shlex.quote(secret)  # for the printed gcloud commands
    client = clients.secrets_client()
    try:
        response = client.access_secret_version(name=version_name, retry=clients.retry())
    except exceptions.NotFound:
        raise SecretError(f"secret version {version_name} does not exist. Create it or fix hf_token_secret.") from None
    except (exceptions.PermissionDenied, exceptions.Forbidden):  # gRPC says PermissionDenied, REST says Forbidden
        raise SecretError(
            f"no access to {version_name}: grant roles/secretmanager.secretAccessor to the pipeline's service "
            f"account: gcloud secrets add-iam-policy-binding {q_secret} --project={q_project} "
            "--member=serviceAccount:SERVICE_ACCOUNT --role=roles/secretmanager.secretAccessor"
        ) from None
    except (exceptions.FailedPrecondition, exceptions.BadRequest) as err:
        raise SecretError(_state_message(version_name, str(err), project, secret)) from None
    text = response.payload.data.decode("utf-8").strip()
    if not text:
        raise SecretError(
            f"the secret is empty: {response.name or version_name} holds no data. Add a version holding the "
            f"token: printf %s \"$HF_TOKEN\" | gcloud secrets versions add {q_secret} --project={q_project} "
            "--data-file=-"
        )
    return text


def _state_message(version_name: str, error: str, project: str, secret: str) -> str:
    """What a 400 FAILED_PRECONDITION on access means: the version is disabled or destroyed."""
    m = re.search(r"Secret Version \[([^\]]+)\] is in ([A-Z_]+) state", error)
    version, state = (m.group(1), m.group(2)) if m else (version_name, "")
    number = version.rsplit("/", 1)[-1]
    latest = (
        " (versions/latest is the newest version whatever its state)" if version_name.endswith("/latest") else ""
    )
    q_project, q_secret, q_number = shlex.quote(project), shlex.quote(secret), shlex.quote(number)
    if state == "DISABLED":
        return (
            f"secret version {version} is disabled{latest}, so it cannot be read. Enable it: gcloud secrets "
            f"versions enable {q_number} --secret={q_secret} --project={q_project}, or point hf_token_secret at "
            "an enabled version."
        )
    if state == "DESTROYED":
        return (
            f"secret version {version} is destroyed{latest}: its data is gone. Add a new version holding the "
            f"token: gcloud secrets versions add {q_secret} --project={q_project} --data-file=- , or point "
            "hf_token_secret at an enabled version."
        )
    return f"secret version {version_name} cannot be read: {error}"
