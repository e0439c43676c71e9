"""Resource names, labels and URLs. Pure.

Every resource a run creates carries ``managed-by=vllm-vertex`` and the run label
``vllm-vertex-run=<run>``, derived from the pipeline job's full resource name; cleanup after a
failure finds what the run created by both labels (KFP's exit task cannot read other tasks'
outputs, kubeflow/pipelines #10187).
"""

from __future__ import annotations

import hashlib
import re

from vllm_vertex.errors import BadInput

__all__ = [
    "KEEP_UNTIL_KEY",
    "MANAGED_BY",
    "RUN_LABEL_KEY",
    "api_base",
    "check_run_label",
    "console_endpoint_url",
    "dedicated_base",
    "console_pipeline_run_url",
    "display_name",
    "endpoint_resource_name",
    "is_run_resource",
    "label_filter",
    "managed_filter",
    "openai_base_url",
    "resource_labels",
    "resource_name",
    "resource_uri",
    "run_label_value",
    "should_clean_up",
]

RUN_LABEL_KEY = "vllm-vertex-run"
MANAGED_BY = {"managed-by": "vllm-vertex"}
# On an endpoint a run keeps for a while (keep_for_hours): the Unix time after which `teardown --expired` removes it.
KEEP_UNTIL_KEY = "vllm-vertex-keep-until"
_LABEL_MAX = 63
_HASH_CHARS = 16


def run_label_value(job_resource_name: str) -> str:
    """The run label of one pipeline job: a readable prefix plus a hash of the job's full name.

    ``job_resource_name`` is what KFP's ``PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER`` resolves to on
    Vertex, ``projects/P/locations/L/pipelineJobs/ID``. The prefix is the tail of the job ID
    (the timestamp part of KFP's job IDs) made label-safe; the suffix is the first 16 hex digits
    (64 bits) of the SHA-256 of the whole name, exactly as given. Every label has a suffix, so a
    job ID that looks like another job's label, the same job ID in two projects or regions, and
    names that differ only in case or punctuation all get different labels.

    Raises:
        ValueError: the name is empty or an unresolved placeholder (every run would share a label).
    """
    name = job_resource_name.strip()
    if not name or "{{" in name:
        raise ValueError(
            f"the pipeline job's resource name is {job_resource_name!r}: the runner did not resolve "
            f"{{{{$.pipeline_job_resource_name}}}}, so this run has no identity of its own and cleanup "
            "could not tell its resources from another run's. Run the pipeline on Vertex AI Pipelines."
        )
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    readable = re.sub(r"[^a-z0-9_-]+", "-", name.rsplit("/", 1)[-1].lower()).strip("-_")
    readable = readable[-(_LABEL_MAX - _HASH_CHARS - 1) :].lstrip("-_")
    return f"{readable or 'run'}-{digest}"


def is_run_resource(labels, run_label: str) -> bool:
    """True when ``labels`` carry both ``managed-by=vllm-vertex`` and exactly this run label."""
    labels = dict(labels or {})
    return labels.get(RUN_LABEL_KEY) == run_label and all(labels.get(k) == v for k, v in MANAGED_BY.items())


def resource_labels(user_labels: dict[str, str], run_label: str) -> dict[str, str]:
    """Labels for every created resource: the user's, ``managed-by`` and the run label."""
    return {**user_labels, **MANAGED_BY, RUN_LABEL_KEY: run_label}


def resource_uri(resource_name: str, region: str, api_endpoint: str = "") -> str:
    """The ``uri`` of a ``google.VertexModel``/``VertexEndpoint`` artifact: the resource's REST URL."""
    return f"{api_base(region, api_endpoint)}/v1/{resource_name}"


def should_clean_up(policy: str, final_state: str) -> bool:
    """Exit-handler rule: ``always`` cleans, ``on_failure`` cleans unless the run succeeded, ``never`` keeps."""
    return policy == "always" or (policy == "on_failure" and final_state != "SUCCEEDED")


_LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")
_PROJECT = re.compile(r"(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z0-9][a-z0-9-]{0,62}")
_REGION = re.compile(r"[a-z][a-z0-9-]{1,40}")


def check_run_label(run_label: str) -> str:
    """``run_label`` when it is a label value (what ``run_label_value`` makes), for a filter or a resource.

    Raises:
        BadInput: anything else (quotes, spaces, capitals: it would change the filter it goes into).
    """
    if not _LABEL_VALUE.fullmatch(run_label):
        raise BadInput(
            f"run label {run_label!r} is not a run label: 1-63 lowercase letters, digits, '-' or '_' "
            "(copy it from `vllm-vertex submit`'s output or the resources' vllm-vertex-run label)."
        )
    return run_label


def managed_filter() -> str:
    """A ``list_*`` filter that matches what vllm-vertex made: ``managed-by=vllm-vertex``."""
    return " AND ".join(f'labels.{k}="{v}"' for k, v in MANAGED_BY.items())


def label_filter(run_label: str) -> str:
    """A ``list_*`` filter that matches the resources of one run: the run label and ``managed-by``.

    Raises:
        BadInput: ``run_label`` is not a label value.
    """
    check_run_label(run_label)
    return f'labels.{RUN_LABEL_KEY}="{run_label}" AND {managed_filter()}'


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
        BadInput: an ID without project or region, or a ref of neither form (the message says the fix).
    """
    ref = ref.strip()
    if re.fullmatch(rf"projects/[a-z0-9.:-]+/locations/[a-z0-9-]+/{collection}/[0-9]+", ref):
        return ref
    if not re.fullmatch(r"[0-9]+", ref):
        raise BadInput(f"{ref!r} is neither projects/P/locations/L/{collection}/ID nor a numeric ID.")
    if not (project and region):
        raise BadInput(f"the ID {ref} needs the project and region: pass --project and --region.")
    if not _PROJECT.fullmatch(project) or not _REGION.fullmatch(region):
        raise BadInput(f"--project {project!r} or --region {region!r} is not a project ID and a region "
                       "(e.g. --project my-project --region us-central1).")  # fmt: skip
    return f"projects/{project}/locations/{region}/{collection}/{ref}"


def endpoint_resource_name(ref: str, project: str = "", region: str = "") -> str:
    """``projects/P/locations/L/endpoints/E`` from that name or a numeric endpoint ID (see ``resource_name``)."""
    return resource_name(ref, "endpoints", project, region)
