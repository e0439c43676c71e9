"""Official Google clients, built one way for every step: from the process's client context.

``vllm_vertex.cloud.context`` holds the override that points every client at local stand-ins
(tests) and the credentials; these functions are the shorthands the call sites use.
"""

from __future__ import annotations

from vllm_vertex.cloud.context import current

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


def credentials():
    """The context's credentials: anonymous under an override, else Application Default Credentials."""
    return current().credentials()


def access_token() -> str:
    """A bearer token for Vertex's OpenAI-compatible surface (lasts one hour)."""
    return current().access_token()


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


def _regional(service: str, region: str, version: str = "v1"):
    """A regional ``aiplatform_v1`` (or ``aiplatform_v1beta1``) GAPIC client over REST."""
    if version == "v1beta1":
        from google.cloud import aiplatform_v1beta1 as module
    else:
        from google.cloud import aiplatform_v1 as module

    return current().gapic(getattr(module, service), region)


def model_client(region: str):
    """``aiplatform_v1.ModelServiceClient`` for ``region``."""
    return _regional("ModelServiceClient", region)


def endpoint_client(region: str, version: str = "v1"):
    """``aiplatform_v1.EndpointServiceClient`` for ``region`` (``version="v1beta1"``: the v1beta1 one, flex-start)."""
    return _regional("EndpointServiceClient", region, version)


def pipeline_client(region: str):
    """``aiplatform_v1.PipelineServiceClient`` for ``region``."""
    return _regional("PipelineServiceClient", region)


def schedule_client(region: str):
    """``aiplatform_v1.ScheduleServiceClient`` for ``region``."""
    return _regional("ScheduleServiceClient", region)


def prediction_client(region: str, dedicated_dns: str = ""):
    """``aiplatform_v1.PredictionServiceClient``; a dedicated endpoint is reached on its own DNS."""
    from google.cloud import aiplatform_v1

    return current().gapic(aiplatform_v1.PredictionServiceClient, region, dedicated_dns=dedicated_dns)


def quotas_client():
    """``cloudquotas_v1.CloudQuotasClient`` (global service)."""
    from google.cloud import cloudquotas_v1

    return current().gapic(cloudquotas_v1.CloudQuotasClient)


def secrets_client():
    """``secretmanager.SecretManagerServiceClient`` (global service)."""
    from google.cloud import secretmanager

    return current().gapic(secretmanager.SecretManagerServiceClient)
