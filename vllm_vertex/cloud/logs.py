"""Reads a deployed model's container log from Cloud Logging, to name a failed deploy's root cause.

Vertex's deploy error is often generic ("Model server never became ready"); the container's own
error (CUDA OOM, gated repo, ...) is in Cloud Logging. Uses ``google-cloud-logging``'s JSON API
client (its GAPIC client has no REST transport).
"""

from __future__ import annotations

import itertools
import re

from vllm_vertex.cloud.context import current

__all__ = ["container_log"]

RESOURCE_TYPE = "aiplatform.googleapis.com/Endpoint"


def log_filter(endpoint_name: str, since_rfc3339: str) -> str:
    """Container log lines of one endpoint since a time.

    Raises:
        ValueError: the endpoint ID is not a number, or the time not RFC 3339 (either would change the filter).
    """
    endpoint_id = endpoint_name.rsplit("/", 1)[-1]
    if not re.fullmatch(r"[0-9]+", endpoint_id) or not re.fullmatch(r"[0-9T:.+Z-]+", since_rfc3339):
        raise ValueError(f"no log filter for endpoint {endpoint_name!r} since {since_rfc3339!r}")
    return (
        f'resource.type="{RESOURCE_TYPE}" AND resource.labels.endpoint_id="{endpoint_id}" '
        f'AND timestamp>="{since_rfc3339}"'
    )


def container_log(
    project: str, endpoint_name: str, since_rfc3339: str, limit: int = 300
) -> str:
    """The newest ``limit`` log lines of the endpoint's containers since ``since_rfc3339``, oldest first."""
    from google.cloud import logging as cloud_logging

    client = current().logging(project)
    entries = client.list_entries(
        resource_names=[f"projects/{project}"],
        filter_=log_filter(endpoint_name, since_rfc3339),
        order_by=cloud_logging.DESCENDING,
        page_size=limit,
    )
    lines = []
    for entry in itertools.islice(entries, limit):
        payload = entry.payload
        if isinstance(payload, dict):
            payload = payload.get("message") or payload.get("textPayload") or str(payload)
        lines.append(str(payload))
    return "\n".join(reversed(lines))
