"""Resource names, labels and URLs. Pure.

Every resource a run creates carries the run label ``vllm-vertex-run=<run>``; cleanup after a
failure finds what the run created by that label (KFP's exit task cannot read other tasks'
outputs, kubeflow/pipelines #10187).
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "MANAGED_BY",
    "RUN_LABEL_KEY",
    "api_base",
    "console_endpoint_url",
    "dedicated_base",
    "console_pipeline_run_url",
    "display_name",
    "endpoint_resource_name",
    "label_filter",
    "openai_base_url",
    "resource_labels",
    "resource_name",
    "resource_uri",
    "run_label_value",
    "should_clean_up",
]

RUN_LABEL_KEY = "vllm-vertex-run"
MANAGED_BY = {"managed-by": "vllm-vertex"}
_LABEL_MAX = 63


def run_label_value(run_name: str) -> str:
    """A Vertex label value (≤ 63 chars of ``[a-z0-9_-]``) unique to one run name.

    Long names keep their tail (the timestamp part of KFP run names) plus a short hash of the
    whole, so two long names that share a tail still differ.
    """
    clean = re.sub(r"[^a-z0-9_-]+", "-", run_name.lower()).strip("-") or "run"
    if len(clean) <= _LABEL_MAX:
        return clean
    digest = hashlib.sha256(run_name.encode()).hexdigest()[:8]
    return f"{clean[-(_LABEL_MAX - 9) :]}-{digest}".lstrip("-")


def resource_labels(user_labels: dict[str, str], run_label: str) -> dict[str, str]:
    """Labels for every created resource: the user's, ``managed-by`` and the run label."""
    return {**user_labels, **MANAGED_BY, RUN_LABEL_KEY: run_label}


def resource_uri(resource_name: str, region: str, api_endpoint: str = "") -> str:
    """The ``uri`` of a ``google.VertexModel``/``VertexEndpoint`` artifact: the resource's REST URL."""
    return f"{api_base(region, api_endpoint)}/v1/{resource_name}"


def should_clean_up(policy: str, final_state: str) -> bool:
    """Exit-handler rule: ``always`` cleans, ``on_failure`` cleans unless the run succeeded, ``never`` keeps."""
    return policy == "always" or (policy == "on_failure" and final_state != "SUCCEEDED")


def label_filter(run_label: str) -> str:
    """A ``list_*`` filter that matches the resources of one run."""
    return f'labels.{RUN_LABEL_KEY}="{run_label}"'


def display_name(model_id: str, run_label: str, kind: str) -> str:
    """``<model>-<kind>-<run>``, at most 128 characters (Vertex's display-name limit)."""
    stem = model_id.rstrip("/").rsplit("/", 1)[-1]
    return f"{stem}-{kind}-{run_label}"[:128]


def api_base(region: str, api_endpoint: str = "") -> str:
    """The regional Vertex AI base URL, or the override (tests point it at a local server)."""
    if api_endpoint:
        return api_endpoint.rstrip("/") if "://" in api_endpoint else f"https://{api_endpoint}"
    return f"https://{region}-aiplatform.googleapis.com"


def dedicated_base(dns: str, api_endpoint: str = "") -> str:
    """The dedicated endpoint's base URL. It takes the scheme of the override when there is one."""
    scheme = api_endpoint.split("://", 1)[0] if "://" in api_endpoint else "https"
    return f"{scheme}://{dns}"


def openai_base_url(endpoint_name: str, region: str, dedicated_dns: str = "", api_endpoint: str = "") -> str:
    """``base_url`` for the OpenAI SDK: Vertex's v1beta1 chat completions for one endpoint."""
    base = dedicated_base(dedicated_dns, api_endpoint) if dedicated_dns else api_base(region, api_endpoint)
    return f"{base}/v1beta1/{endpoint_name}"


def console_endpoint_url(endpoint_name: str) -> str:
    """Console page of an endpoint ``projects/P/locations/L/endpoints/E``."""
    parts = endpoint_name.split("/")
    project, region, endpoint_id = parts[1], parts[3], parts[5]
    return (
        f"https://console.cloud.google.com/vertex-ai/online-prediction/locations/{region}"
        f"/endpoints/{endpoint_id}?project={project}"
    )


def console_pipeline_run_url(job_name: str) -> str:
    """Console page of a pipeline run ``projects/P/locations/L/pipelineJobs/ID``."""
    parts = job_name.split("/")
    project, region, job_id = parts[1], parts[3], parts[5]
    return f"https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/{job_id}?project={project}"


def resource_name(ref: str, collection: str, project: str = "", region: str = "") -> str:
    """``projects/P/locations/L/<collection>/ID`` from that name, or from a numeric ID with project and region.

    Raises:
        ValueError: an ID without project or region, or a ref of neither form (the message says the fix).
    """
    ref = ref.strip()
    if re.fullmatch(rf"projects/[^/]+/locations/[^/]+/{collection}/[0-9]+", ref):
        return ref
    if not re.fullmatch(r"[0-9]+", ref):
        raise ValueError(f"{ref!r} is neither projects/P/locations/L/{collection}/ID nor a numeric ID.")
    if not (project and region):
        raise ValueError(f"the ID {ref} needs the project and region: pass --project and --region.")
    return f"projects/{project}/locations/{region}/{collection}/{ref}"


def endpoint_resource_name(ref: str, project: str = "", region: str = "") -> str:
    """``projects/P/locations/L/endpoints/E`` from that name or a numeric endpoint ID (see ``resource_name``)."""
    return resource_name(ref, "endpoints", project, region)
