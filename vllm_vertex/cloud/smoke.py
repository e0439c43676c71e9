"""Smoke checks against a live endpoint: predict route (text, image+text) and OpenAI chat."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from vllm_vertex import naming, payloads
from vllm_vertex.cloud import clients
from vllm_vertex.report import CheckResult

__all__ = ["SmokeTarget", "run_checks"]


@dataclass(frozen=True)
class SmokeTarget:
    """Where and what to check.

    Attributes:
        endpoint_name: ``projects/P/locations/L/endpoints/E``.
        dedicated_dns: The endpoint's dedicated DNS, empty for a shared endpoint.
        text_prompt: Prompt of the text checks.
        image_url: Image of the image checks (http(s), gs:// or data: URL); empty skips them.
        image_prompt: Predict-route prompt of the image check.
        chat: Run the OpenAI chat-completions checks.
        max_tokens: Tokens to generate per check.
    """

    endpoint_name: str
    dedicated_dns: str = ""
    text_prompt: str = "What is a car?"
    image_url: str = ""
    image_prompt: str = payloads.DEFAULT_IMAGE_PROMPT
    chat: bool = True
    max_tokens: int = 64

    @property
    def region(self) -> str:
        """The endpoint's region."""
        return self.endpoint_name.split("/")[3]


def run_checks(target: SmokeTarget, api_endpoint: str = "", log: Callable[[str], None] = print) -> list[CheckResult]:
    """Runs every check that applies; a failing check is recorded, never raised."""
    sampling = payloads.SamplingParams(max_tokens=target.max_tokens)
    checks: list[tuple[str, str, Callable[[], tuple[str, int]]]] = [
        (
            "text_predict",
            ":predict",
            lambda: _predict(target, payloads.text_instance(target.text_prompt, sampling), api_endpoint),
        ),
    ]
    if target.image_url:
        instance = payloads.image_instance(target.image_prompt, target.image_url, sampling)
        checks.append(("image_predict", ":predict", lambda: _predict(target, instance, api_endpoint)))
    if target.chat:
        text_msgs = payloads.chat_messages(target.text_prompt)
        checks.append(("chat_text", "chat/completions", lambda: _chat(target, text_msgs, api_endpoint)))
        if target.image_url:
            img_msgs = payloads.chat_messages("Describe this image.", target.image_url)
            checks.append(("chat_image", "chat/completions", lambda: _chat(target, img_msgs, api_endpoint)))
    results = [_timed(name, route, call, target) for name, route, call in checks]
    for r in results:
        log(f"{r.name}: {'pass' if r.passed else 'FAIL'} in {r.latency_s:.3f}s — {(r.error or r.answer)[:200]!r}")
    return results


def _timed(name: str, route: str, call, target: SmokeTarget) -> CheckResult:
    image = target.image_url if "image" in name else ""
    start = time.perf_counter()
    try:
        answer, tokens = call()
    except Exception as err:  # a check fails, the others still run
        return CheckResult(
            name, route, False, time.perf_counter() - start, error=f"{type(err).__name__}: {err}", image_url=image
        )
    latency = time.perf_counter() - start
    if not answer.strip():
        return CheckResult(
            name, route, False, latency, error="empty output: the model generated no text", image_url=image
        )
    return CheckResult(name, route, True, latency, answer=answer, completion_tokens=tokens, image_url=image)


def _predict(target: SmokeTarget, instance: dict, api_endpoint: str) -> tuple[str, int]:
    from google.protobuf import json_format, struct_pb2

    client = clients.prediction_client(target.region, api_endpoint, target.dedicated_dns)
    value = json_format.ParseDict(instance, struct_pb2.Value())
    response = client.predict(endpoint=target.endpoint_name, instances=[value], retry=clients.retry(timeout=180))
    if not response.predictions:
        raise payloads.PredictionFormatError("the endpoint answered with no predictions")
    first = response.predictions[0]
    first = dict(first) if hasattr(first, "keys") else first
    return payloads.parse_prediction(first, instance.get("raw_response", False)), 0


def _chat(target: SmokeTarget, messages: list[dict], api_endpoint: str) -> tuple[str, int]:
    import openai

    base_url = naming.openai_base_url(target.endpoint_name, target.region, target.dedicated_dns, api_endpoint)
    client = openai.OpenAI(base_url=base_url, api_key=clients.access_token(api_endpoint), max_retries=3, timeout=120)
    completion = client.chat.completions.create(model="", messages=messages, max_tokens=target.max_tokens)
    if not completion.choices:
        raise ValueError("chat completion has no choices")
    text = completion.choices[0].message.content or ""
    tokens = completion.usage.completion_tokens if completion.usage else 0
    return text, tokens
