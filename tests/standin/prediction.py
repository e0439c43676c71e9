"""PredictionService routes: predict, rawPredict and the OpenAI-compatible chat completions.

Shared endpoints answer on the main listener only, dedicated ones on the dedicated-DNS listener
only. Requests are forwarded to the deployed container's predict route (Google's vLLM container
contract); chat completions add ``"@requestFormat": "chatCompletions"`` and stream only on
dedicated endpoints.
"""

from __future__ import annotations

import base64
import itertools
import json
import random

from .aiplatform import parent
from .state import GoogleError, Raw, Stream

_AI = "aiplatform.projects.locations.endpoints."
SHARED_LIMIT, DEDICATED_LIMIT = 1_572_864, 10 * 1024 * 1024


def _target(st, req) -> tuple[dict, dict, str]:
    """(endpoint, deployed model JSON, container URL) for a serving request, with the routing rules."""
    name = f"{parent(req)}/endpoints/{req.param('endpointsId')}"
    with st.state.lock:
        ep = st.state.endpoints.get(name)
        if ep is None:
            raise GoogleError(404, f"Endpoint `{name}` not found.")
        dedicated = bool(ep.get("dedicatedEndpointEnabled"))
        if dedicated and not req.dedicated:
            raise GoogleError(400, f"Dedicated endpoint {name} should be accessed through its dedicated DNS "
                              f"{ep.get('dedicatedEndpointDns')}; the shared domain is not supported for dedicated endpoints.",
                              "FAILED_PRECONDITION")
        if req.dedicated and not dedicated:
            raise GoogleError(404, f"Endpoint `{name}` is not a dedicated endpoint on this DNS.")
        limit = DEDICATED_LIMIT if dedicated else SHARED_LIMIT
        if len(req.body) > limit:
            raise GoogleError(400, f"Request payload size exceeds the limit: {limit} bytes.")
        live = [d for d in ep.get("deployedModels", []) if (st.state.deployed.get(d["id"]) or {}).get("url")]
        if not live:
            raise GoogleError(400, f"Endpoint {name} does not have any deployed models.", "FAILED_PRECONDITION")
        split = ep.get("trafficSplit", {})
        weights = [split.get(d["id"], 0) for d in live]
        dm = random.choices(live, weights=weights)[0] if any(weights) else live[0]
        url = st.state.deployed[dm["id"]]["url"]
        model = st.state.models.get(dm["model"], {})
    return {**ep, "_model": model}, dm, url


def _timeout(st, ep: dict) -> float | None:
    return None if ep.get("dedicatedEndpointEnabled") else st.shared_timeout


def _route(ep: dict) -> str:
    return (ep["_model"].get("containerSpec") or {}).get("predictRoute") or "/predict"


def _override(text: str | None, prediction):
    """Apply ``faults.predict_output``, keeping the container's ``Prompt:...Output:`` frame."""
    if text is None or not isinstance(prediction, str):
        return prediction
    head, sep, _ = prediction.partition("Output:\n")
    return head + sep + text if sep else text


def predict(st, req) -> dict:
    ep, dm, url = _target(st, req)
    payload = {"instances": req.json.get("instances", [])}
    if "parameters" in req.json:
        payload["parameters"] = req.json["parameters"]
    with st.container_call(url, _route(ep), json.dumps(payload).encode(), timeout=_timeout(st, ep)) as r:
        answer = json.loads(r.read() or b"{}")
    if not isinstance(answer, dict) or "predictions" not in answer:
        raise GoogleError(500, f"The model server answered without `predictions`: {str(answer)[:200]}", "INTERNAL")
    predictions = [_override(st.faults.output, p) for p in answer["predictions"]]
    out = {"predictions": predictions, "deployedModelId": dm["id"], "model": dm["model"],
           "modelDisplayName": ep["_model"].get("displayName", ""), "modelVersionId": dm.get("modelVersionId", "1")}
    if "metadata" in answer:
        out["metadata"] = answer["metadata"]
    return out


def raw_predict(st, req) -> Raw:
    """The GAPIC REST client sends ``{"httpBody": {"data": b64, "contentType"}}``; curl sends the raw body.
    The answer is the container's raw body (HttpBody response), exactly like the real API."""
    ep, _, url = _target(st, req)
    data, ctype = req.body, req.headers.get("Content-Type", "application/json")
    try:
        wrapped = json.loads(req.body or b"{}")
    except ValueError:
        wrapped = None
    if isinstance(wrapped, dict) and set(wrapped) == {"httpBody"}:
        body = wrapped["httpBody"] or {}
        data, ctype = base64.b64decode(body.get("data", "")), body.get("contentType", "application/json")
    with st.container_call(url, _route(ep), data, ctype, timeout=_timeout(st, ep)) as r:
        answer, rtype = r.read(), r.headers.get("Content-Type", "application/json")
    if st.faults.output is not None:
        try:
            parsed = json.loads(answer)
            parsed["predictions"] = [_override(st.faults.output, p) for p in parsed["predictions"]]
            answer = json.dumps(parsed).encode()
        except (ValueError, KeyError, TypeError):
            pass
    return Raw(answer, rtype)


def chat_completions(st, req):
    auth = req.headers.get("Authorization") or req.headers.get("authorization") or ""
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        raise GoogleError(401, "Request is missing required authentication credential. Expected OAuth 2 access token.")
    try:
        body = json.loads(req.body or b"")
    except ValueError as e:
        raise GoogleError(400, f"Invalid JSON payload received. {e}") from e
    if not isinstance(body, dict):
        raise GoogleError(400, "Invalid JSON payload received. Expected an object.")
    ep, _, url = _target(st, req)
    streaming = bool(body.get("stream"))
    if streaming and not ep.get("dedicatedEndpointEnabled"):
        raise GoogleError(400, "Streaming is not supported on shared endpoints; use a dedicated endpoint "
                          "(dedicated_endpoint_enabled) for streaming chat completions.")
    payload = json.dumps({**body, "@requestFormat": "chatCompletions"}).encode()
    r = st.container_call(url, _route(ep), payload, timeout=_timeout(st, ep))
    if streaming:
        cut_at = st.faults.stream_cut_at()

        def chunks():
            seen: dict = {}
            with r:
                for sent in itertools.count():
                    line = r.readline()
                    if not line or (cut_at is not None and sent >= cut_at):
                        return  # a cut stream: the connection closes mid-response
                    yield _override_sse(st.faults.output, line, seen)
        return Stream(chunks(), r.headers.get("Content-Type", "text/event-stream"))
    with r:
        answer, rtype = r.read(), r.headers.get("Content-Type", "application/json")
    if st.faults.output is not None:
        try:
            parsed = json.loads(answer)
            for choice in parsed.get("choices", []):
                choice["message"]["content"] = st.faults.output
            answer = json.dumps(parsed).encode()
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
    return Raw(answer, rtype)


def _override_sse(text: str | None, line: bytes, seen: dict) -> bytes:
    """The first content delta carries the override, later ones are emptied."""
    if text is None or not line.startswith(b"data: {"):
        return line
    try:
        chunk = json.loads(line[6:])
        for choice in chunk.get("choices", []):
            if choice.get("delta", {}).get("content"):
                choice["delta"]["content"] = "" if seen else text
                seen["done"] = True
        return b"data: " + json.dumps(chunk).encode() + b"\n"
    except (ValueError, AttributeError):
        return line


ROUTES = {
    _AI + "predict": predict,
    _AI + "rawPredict": raw_predict,
    _AI + "chat.completions": chat_completions,
}
