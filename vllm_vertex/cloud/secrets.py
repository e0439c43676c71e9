"""Reads the Hugging Face token from Secret Manager at run time. The value is never logged."""

from __future__ import annotations

from vllm_vertex.cloud import clients

__all__ = ["read_secret"]


def read_secret(version_name: str, api_endpoint: str = "") -> str:
    """The payload of a secret version ``projects/P/secrets/S/versions/V`` as text.

    Raises:
        RuntimeError: the secret cannot be read, with the fix (the value is never included).
    """
    from google.api_core import exceptions

    client = clients.secrets_client(api_endpoint)
    try:
        response = client.access_secret_version(name=version_name, retry=clients.retry())
    except exceptions.NotFound:
        raise RuntimeError(f"secret version {version_name} does not exist. Create it or fix hf_token_secret.") from None
    except exceptions.PermissionDenied:
        raise RuntimeError(
            f"no access to {version_name}: grant roles/secretmanager.secretAccessor to the pipeline's service account."
        ) from None
    return response.payload.data.decode("utf-8").strip()
