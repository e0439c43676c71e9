"""Official Google clients, built one way for every step.

``api_endpoint`` is the hidden override the components carry (default empty): when set,
every client talks to that base URL (REST) with anonymous credentials, which is how the tests
point the product at a local stand-in. When empty, clients use Application Default
Credentials and the regional endpoints.
"""

from __future__ import annotations

from vllm_vertex.cloud.auth import CLOUD_PLATFORM
from vllm_vertex.naming import api_base

__all__ = [
    "access_token",
    "credentials",
    "endpoint_client",
    "model_client",
    "pipeline_client",
    "prediction_client",
    "quotas_client",
    "retry",
    "schedule_client",
    "secrets_client",
]


def credentials(api_endpoint: str = ""):
    """Anonymous credentials for an override, else Application Default Credentials."""
    if api_endpoint:
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    from vllm_vertex.cloud import auth

    if auth.checked() is not None:  # the CLI checked (and refreshed) them already
        return auth.checked()
    import google.auth

    creds, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
    return creds


def access_token(api_endpoint: str = "") -> str:
    """A bearer token for Vertex's OpenAI-compatible surface (lasts one hour)."""
    if api_endpoint:
        return "anonymous"
    import google.auth.transport.requests

    creds = credentials()
    creds.refresh(google.auth.transport.requests.Request())
    return creds.token


def retry(timeout: float = 300.0, initial: float = 1.0, idempotent: bool = True):
    """Bounded exponential backoff on transient errors.

    Reads retry 429, 500, 502, 503 and 504. Calls that create something (``idempotent=False``)
    retry only 429 and 503, which Google returns before doing anything: retrying a 500 could
    create a second model or endpoint. Waits go through ``vllm_vertex.clock`` (``backoff.Retry``).
    """
    from google.api_core import exceptions as exc
    from google.api_core import retry as r

    from vllm_vertex.cloud import backoff

    transient: tuple[type[Exception], ...] = (exc.TooManyRequests, exc.ServiceUnavailable)
    if idempotent:
        transient += (exc.InternalServerError, exc.BadGateway, exc.GatewayTimeout)
    return backoff.Retry(
        predicate=r.if_exception_type(*transient), initial=initial, maximum=30.0, multiplier=2.0, timeout=timeout
    )


def _options(region: str, api_endpoint: str, host: str = "") -> dict:
    if api_endpoint:
        return {"api_endpoint": api_base(region, api_endpoint)}
    return {"api_endpoint": host or f"{region}-aiplatform.googleapis.com"}


def _regional(service: str, region: str, api_endpoint: str):
    """A regional ``aiplatform_v1`` GAPIC client over REST."""
    from google.cloud import aiplatform_v1

    client_class = getattr(aiplatform_v1, service)
    return client_class(
        credentials=credentials(api_endpoint), transport="rest", client_options=_options(region, api_endpoint)
    )


def model_client(region: str, api_endpoint: str = ""):
    """``aiplatform_v1.ModelServiceClient`` for ``region``."""
    return _regional("ModelServiceClient", region, api_endpoint)


def endpoint_client(region: str, api_endpoint: str = ""):
    """``aiplatform_v1.EndpointServiceClient`` for ``region``."""
    return _regional("EndpointServiceClient", region, api_endpoint)


def pipeline_client(region: str, api_endpoint: str = ""):
    """``aiplatform_v1.PipelineServiceClient`` for ``region``."""
    return _regional("PipelineServiceClient", region, api_endpoint)


def schedule_client(region: str, api_endpoint: str = ""):
    """``aiplatform_v1.ScheduleServiceClient`` for ``region``."""
    return _regional("ScheduleServiceClient", region, api_endpoint)


def prediction_client(region: str, api_endpoint: str = "", dedicated_dns: str = ""):
    """``aiplatform_v1.PredictionServiceClient``; a dedicated endpoint is reached on its own DNS."""
    from google.cloud import aiplatform_v1

    if dedicated_dns:
        from vllm_vertex.naming import dedicated_base

        options = {"api_endpoint": dedicated_base(dedicated_dns, api_endpoint)}
    else:
        options = _options(region, api_endpoint)
    return aiplatform_v1.PredictionServiceClient(
        credentials=credentials(api_endpoint), transport="rest", client_options=options
    )


def quotas_client(api_endpoint: str = ""):
    """``cloudquotas_v1.CloudQuotasClient`` (global service)."""
    from google.cloud import cloudquotas_v1

    options = {"api_endpoint": api_base("", api_endpoint)} if api_endpoint else None
    return cloudquotas_v1.CloudQuotasClient(
        credentials=credentials(api_endpoint), transport="rest", client_options=options
    )


def secrets_client(api_endpoint: str = ""):
    """``secretmanager.SecretManagerServiceClient`` (global service)."""
    from google.cloud import secretmanager

    options = {"api_endpoint": api_base("", api_endpoint)} if api_endpoint else None
    return secretmanager.SecretManagerServiceClient(
        credentials=credentials(api_endpoint), transport="rest", client_options=options
    )
