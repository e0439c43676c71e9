"""Smoke checks against a live endpoint: predict route (text, image+text) and OpenAI chat.

A target is a Vertex endpoint (predict route + Vertex's OpenAI surface) or any vLLM /
OpenAI-compatible base URL (no predict route: ``/v1/completions`` stands in for the text check).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from vllm_vertex import payloads
from vllm_vertex.cloud import clients
from vllm_vertex.cloud.context import current
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.errors import BadInput, EndpointNotFound, PredictionFormatError
from vllm_vertex.report import CheckResult

__all__ = ["SmokeTarget", "cost_so_far", "read_endpoint", "run_checks", "target_for"]


@dataclass(frozen=True)
class SmokeTarget:
    """Where and what to check.

    Attributes:
        endpoint_name: ``projects/P/locations/L/endpoints/E``; empty with ``base_url``.
        dedicated_dns: The endpoint's dedicated DNS, empty for a shared endpoint.
        text_prompt: Prompt of the text checks.
        image_url: Image of the image checks (http(s), gs:// or data: URL); empty skips them.
        image_prompt: Predict-route prompt of the image check.
        chat: Run the OpenAI chat-completions checks.
        max_tokens: Tokens to generate per check.
        base_url: An OpenAI-compatible base URL (``http://host:8000/v1``) instead of a Vertex endpoint.
        model: Model name for ``base_url``; empty takes the first one the server lists.
    """

    endpoint_name: str = ""
    dedicated_dns: str = ""
    text_prompt: str = "What is a car?"
    image_url: str = ""
    image_prompt: str = payloads.DEFAULT_IMAGE_PROMPT
    chat: bool = True
    max_tokens: int = 64
    base_url: str = ""
    model: str = ""

    @property
    def region(self) -> str:
        """The endpoint's region."""
        return self.endpoint_name.split("/")[3]

    @property
    def label(self) -> str:
        """What the report names: the endpoint, or the base URL."""
        return self.endpoint_name or self.base_url


def target_for(cfg: DeploymentConfig, endpoint_name: str = "", dedicated_dns: str = "", base_url: str = ""):
    """The checks ``cfg`` asks for (prompts, image, chat, tokens) against one endpoint or base URL."""
    return SmokeTarget(
        endpoint_name=endpoint_name,
        dedicated_dns=dedicated_dns,
        text_prompt=cfg.smoke_prompt,
        image_url=cfg.smoke_image_url if cfg.run_image_checks else "",
        image_prompt=cfg.smoke_image_prompt,
        chat=cfg.run_chat_checks,
        max_tokens=cfg.smoke_max_tokens,
        base_url=base_url,
    )


def read_endpoint(endpoint_name: str, require_deployed: bool = True):
    """The ``aiplatform_v1.Endpoint``, checked to exist (and, unless told otherwise, to serve a model).

    Raises:
        EndpointNotFound: it does not exist, or nothing is deployed on it (message says what to do).
    """
    from google.api_core import exceptions

    client = clients.endpoint_client(endpoint_name.split("/")[3])
    try:
        endpoint = client.get_endpoint(name=endpoint_name, retry=clients.retry(timeout=60))
    except exceptions.NotFound:
        raise EndpointNotFound(
            f"endpoint {endpoint_name} does not exist. Check the ID, project and region "
            "(gcloud ai endpoints list --region=REGION lists them)."
        ) from None
    if require_deployed and not endpoint.deployed_models:
        raise EndpointNotFound(f"endpoint {endpoint_name} exists but serves no model: deploy one before checking it.")
    return endpoint


def cost_so_far(endpoint, now=None) -> tuple[dict[str, float], str]:
    """The deployment's estimated GPU cost so far: deployed time × the hourly price of its replicas.

    Args:
        endpoint: The ``aiplatform_v1.Endpoint`` (its first deployed model is measured).
        now: The time to measure to (default: now, UTC).

    Returns:
        Figures for Metrics (``deployed_minutes``; ``usd_per_hour`` and ``estimated_gpu_cost_usd``
        when the price is known) and one line for the report and the console.
    """
    import datetime

    from vllm_vertex import pricing

    if not endpoint.deployed_models or endpoint.deployed_models[0].create_time is None:
        return {}, "estimated GPU cost: unknown (nothing deployed, or no deploy time)"
    deployed = endpoint.deployed_models[0]
    resources = deployed.dedicated_resources
    held = resources.machine_spec.reservation_affinity.reservation_affinity_type == 3  # SPECIFIC_RESERVATION
    rate = pricing.rate_for(resources.machine_spec.machine_type, max(1, resources.min_replica_count), resources.spot,
                            "reservation" if held else "")  # flexStart is v1beta1-only: a v1 read cannot see it
    seconds = ((now or datetime.datetime.now(datetime.UTC)) - deployed.create_time).total_seconds()
    figures = {"deployed_minutes": round(max(0.0, seconds) / 60, 2)}
    cost = pricing.estimated_cost(rate, max(0.0, seconds))
    if cost is not None:
        figures.update(usd_per_hour=rate.usd_per_hour, estimated_gpu_cost_usd=cost)
    return figures, f"since the deploy began: {pricing.describe(rate, max(0.0, seconds))}"


def run_checks(target: SmokeTarget, log: Callable[[str], None] = print) -> list[CheckResult]:
    """Runs every check that applies; a failing check is recorded, never raised."""
    checks = _predict_checks(target) if not target.base_url else []
    if target.base_url:
        checks.append(("text_completion", "/v1/completions", lambda: _completion(target)))
    if target.chat:
        text_msgs = payloads.chat_messages(target.text_prompt)
        checks.append(("chat_text", "chat/completions", lambda: _chat(target, text_msgs)))
        if target.image_url:
            img_msgs = payloads.chat_messages("Describe this image.", target.image_url)
            checks.append(("chat_image", "chat/completions", lambda: _chat(target, img_msgs)))
    results = [_timed(name, route, call, target) for name, route, call in checks]
    for r in results:
        log(f"{r.name}: {'pass' if r.passed else 'FAIL'} in {r.latency_s:.3f}s — {(r.error or r.answer)[:200]!r}")
    return results


def _predict_checks(target: SmokeTarget) -> list[tuple[str, str, Callable[[], tuple[str, int]]]]:
    sampling = payloads.SamplingParams(max_tokens=target.max_tokens)
    text = payloads.text_instance(target.text_prompt, sampling)
    checks = [("text_predict", ":predict", lambda: _predict(target, text))]
    if target.image_url:
        instance = payloads.image_instance(target.image_prompt, target.image_url, sampling)
        checks.append(("image_predict", ":predict", lambda: _predict(target, instance)))
    return checks


def _timed(name: str, route: str, call, target: SmokeTarget) -> CheckResult:
    image = target.image_url if "image" in name else ""
    start = time.perf_counter()
    try:
        answer, tokens = call()
    except Exception as err:  # a check fails, the others still run
        from vllm_vertex.cloud.auth import explain

        error = explain(err) or f"{type(err).__name__}: {err}"  # a google-auth error: the problem and the fix
        return CheckResult(name, route, False, time.perf_counter() - start, error=error, image_url=image)
    latency = time.perf_counter() - start
    if not answer.strip():
        return CheckResult(
            name, route, False, latency, error="empty output: the model generated no text", image_url=image
        )
    return CheckResult(name, route, True, latency, answer=answer, completion_tokens=tokens, image_url=image)


def _predict(target: SmokeTarget, instance: dict) -> tuple[str, int]:
    from google.protobuf import json_format, struct_pb2

    client = clients.prediction_client(target.region, target.dedicated_dns)
    value = json_format.ParseDict(instance, struct_pb2.Value())
    response = client.predict(endpoint=target.endpoint_name, instances=[value], retry=clients.retry(timeout=180))
    if not response.predictions:
        raise PredictionFormatError("the endpoint answered with no predictions")
    first = response.predictions[0]
    first = dict(first) if hasattr(first, "keys") else first
    return payloads.parse_prediction(first, instance.get("raw_response", False)), 0


def _transient(err: Exception) -> bool:
    """What the openai SDK retries itself: connection errors and timeouts, HTTP 408, 409, 429 and 5xx."""
    import openai

    if isinstance(err, openai.APIConnectionError):  # APITimeoutError is one
        return True
    return isinstance(err, openai.APIStatusError) and (err.status_code in (408, 409, 429) or err.status_code >= 500)


def _retried(call: Callable):
    """``call`` retried on transient errors for up to 30 s (0.5 s doubling to 8 s, jittered), by ``vllm_vertex.clock``.

    The clients are made with ``max_retries=0``: the SDK's own retries (3, from 0.5 s) sleep with ``time.sleep``,
    which no test clock reaches. At the deadline the last error is raised, as the SDK does.
    """
    from google.api_core.exceptions import RetryError

    from vllm_vertex.cloud import backoff

    retrying = backoff.Retry(predicate=_transient, initial=0.5, maximum=8.0, multiplier=2.0, timeout=30.0)(call)

    def retried(*args, **kwargs):
        try:
            return retrying(*args, **kwargs)
        except RetryError as err:
            raise (err.cause or err) from None

    return retried


def _openai(target: SmokeTarget):
    """The OpenAI client and model name for the target (Vertex routes take model="")."""
    import openai

    if target.base_url:
        key = os.environ.get("OPENAI_API_KEY", "EMPTY")
        client = openai.OpenAI(base_url=target.base_url, api_key=key, max_retries=0, timeout=120)
        if target.model:
            return client, target.model
        served = _retried(client.models.list)().data
        if not served:
            raise BadInput(f"{target.base_url} serves no model (GET /models is empty); pass --model")
        return client, served[0].id
    context = current()
    base_url = context.openai_base_url(target.endpoint_name, target.region, target.dedicated_dns)
    return openai.OpenAI(base_url=base_url, api_key=context.access_token(), max_retries=0, timeout=120), ""


def _chat(target: SmokeTarget, messages: list[dict]) -> tuple[str, int]:
    def call(client, model):
        completion = client.chat.completions.create(model=model, messages=messages, max_tokens=target.max_tokens)
        if not completion.choices:
            raise ValueError("chat completion has no choices")
        return completion.choices[0].message.content or "", _tokens(completion)

    return _with_fresh_token(target, call)


def _completion(target: SmokeTarget) -> tuple[str, int]:
    def call(client, model):
        completion = client.completions.create(model=model, prompt=target.text_prompt, max_tokens=target.max_tokens)
        if not completion.choices:
            raise ValueError("completion has no choices")
        return completion.choices[0].text or "", _tokens(completion)

    return _with_fresh_token(target, call)


def _with_fresh_token(target: SmokeTarget, call):
    """``call(client, model)``; a 401 from Vertex gets a freshly fetched access token and one more try.

    The OpenAI client holds the bearer token it was given (it lasts an hour and may have expired
    or been revoked); the predict route needs nothing of the kind, google-auth's session already
    refreshes its credentials on a 401 and sends the request again.
    """
    import openai

    call = _retried(call)
    client, model = _openai(target)
    try:
        return call(client, model)
    except openai.AuthenticationError as first:
        if target.base_url:
            raise
        client, model = _openai(target)  # a new access token
        try:
            return call(client, model)
        except openai.AuthenticationError as second:
            raise PermissionError(
                f"401 twice: Vertex refused the access token and a freshly fetched one ({second}; first: {first}). "
                "Check the credentials of the identity running the checks (gcloud auth application-default login, "
                "or the pipeline's service account)."
            ) from None


def _tokens(completion) -> int:
    return completion.usage.completion_tokens if completion.usage else 0
