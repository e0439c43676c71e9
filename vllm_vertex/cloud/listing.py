"""What is deployed and what ran: endpoints billing now, recent runs, and a run's logs.

Read-only: nothing here changes a resource. ``endpoints``/``runs``/``run_logs`` are what the
``vllm-vertex endpoints``, ``runs`` and ``logs`` commands print.
"""

from __future__ import annotations

import datetime
import shlex
from dataclasses import asdict, dataclass, field

from vllm_vertex import naming, pricing
from vllm_vertex.cloud import clients

__all__ = [
    "Deployment", "Expired", "LogLine", "RunSummary", "deployments", "expired", "run_logs", "runs", "task_log_filter",
]

_MANAGED = naming.managed_filter()
TASK_RESOURCE_TYPE = "ml_job"  # a pipeline task runs as a CustomJob; its log's resource is the job


@dataclass
class Deployment:
    """One model deployed on an endpoint, billing while it stays deployed.

    Attributes:
        endpoint: ``projects/P/locations/L/endpoints/E`` as Vertex returned it.
        endpoint_display_name: The endpoint's display name.
        deployed_model_id: The deployed model's ID on the endpoint.
        model: The deployed model's display name (vllm-vertex names it after the Hugging Face model).
        machine_type: Machine type of one replica ("" for automatic resources).
        replicas: Replicas billed (the minimum replica count).
        age_seconds: Seconds since the model was deployed.
        usd_per_hour: Hourly price of every replica, or ``None`` when unknown.
        price_text: The price with its source, or why it is unknown.
        run_label: The ``vllm-vertex-run`` label ("" when none).
        managed: Made by vllm-vertex (label ``managed-by=vllm-vertex``); else shown read-only.
        teardown: The exact command that removes it ("" for an endpoint vllm-vertex did not create).
        labels: The endpoint's labels.
    """

    endpoint: str
    endpoint_display_name: str
    deployed_model_id: str
    model: str
    machine_type: str
    replicas: int
    age_seconds: float
    usd_per_hour: float | None
    price_text: str
    run_label: str
    managed: bool
    teardown: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def cost_so_far(self) -> float | None:
        """USD since the model was deployed (deployed time × hourly price), or ``None`` when unknown."""
        if self.usd_per_hour is None:
            return None
        return round(self.usd_per_hour * self.age_seconds / 3600.0, 4)

    def to_dict(self) -> dict:
        """The deployment as JSON-ready values, with the cost so far."""
        return {**asdict(self), "cost_so_far_usd": self.cost_so_far}


def is_managed(labels) -> bool:
    """True when the labels carry ``managed-by=vllm-vertex``."""
    labels = dict(labels or {})
    return all(labels.get(k) == v for k, v in naming.MANAGED_BY.items())


def teardown_command(endpoint_name: str, run_label: str, project: str, region: str) -> str:
    """The shell command that removes the deployment: by its run label, or by the endpoint's name."""
    if run_label:
        args = ["vllm-vertex", "teardown", "--run-label", run_label, "--project", project, "--region", region]
    else:
        args = ["vllm-vertex", "teardown", "--endpoint", endpoint_name]
    return shlex.join(args)


def _seconds_since(stamp, now: datetime.datetime) -> float:
    if not stamp:
        return 0.0
    return max(0.0, (now - stamp).total_seconds())


def deployments(project: str, region: str, include_foreign: bool = False) -> list[Deployment]:
    """Every model deployed on an endpoint of ours (with ``include_foreign``, on any endpoint), newest first.

    The server filters on ``managed-by=vllm-vertex`` unless ``include_foreign``; the labels are checked
    again here. An endpoint with nothing deployed bills nothing and is left out.
    """
    client = clients.endpoint_client(region)
    request = {"parent": f"projects/{project}/locations/{region}"}
    if not include_foreign:
        request["filter"] = _MANAGED
    now = datetime.datetime.now(datetime.UTC)
    found = []
    for endpoint in client.list_endpoints(request=request, retry=clients.retry()):
        labels = dict(endpoint.labels)
        managed = is_managed(labels)
        if not managed and not include_foreign:
            continue
        run_label = labels.get(naming.RUN_LABEL_KEY, "") if managed else ""
        for deployed in endpoint.deployed_models:
            spec = deployed.dedicated_resources
            machine = spec.machine_spec.machine_type if spec else ""
            replicas = int(spec.min_replica_count or 1) if spec else 1
            rate = pricing.rate_for(machine, replicas, bool(spec.spot) if spec else False)
            found.append(Deployment(
                endpoint.name, endpoint.display_name, deployed.id, deployed.display_name or deployed.model,
                machine, replicas, _seconds_since(deployed.create_time, now), rate.usd_per_hour, rate.text(),
                run_label, managed,
                teardown_command(endpoint.name, run_label, project, region) if managed else "", labels,
            ))  # fmt: skip
    return sorted(found, key=lambda d: d.age_seconds)


@dataclass
class RunSummary:
    """One pipeline run of ours.

    Attributes:
        name: ``projects/P/locations/L/pipelineJobs/ID``.
        display_name: The run's display name.
        state: ``SUCCEEDED``, ``RUNNING``, ... (without ``PIPELINE_STATE_``).
        start: When it started (RFC 3339), or "" before it started.
        duration_seconds: From start to end (or to now while it runs); ``None`` before it started.
        run_label: The label its resources carry.
        keeps: Deployments still carrying its run label (billing now).
        cost_so_far_usd: What those deployments cost since they were deployed, ``None`` when unknown.
    """

    name: str
    display_name: str
    state: str
    start: str
    duration_seconds: float | None
    run_label: str
    keeps: list[Deployment] = field(default_factory=list)
    cost_so_far_usd: float | None = None

    def to_dict(self) -> dict:
        """The run as JSON-ready values."""
        out = asdict(self)
        out["keeps"] = [d.to_dict() for d in self.keeps]
        return out


def runs(project: str, region: str, limit: int = 20) -> list[RunSummary]:
    """The newest ``limit`` pipeline runs labelled ``managed-by=vllm-vertex``, with what each still keeps."""
    client = clients.pipeline_client(region)
    request = {"parent": f"projects/{project}/locations/{region}", "filter": _MANAGED,
               "order_by": "create_time desc", "page_size": min(limit, 100)}  # fmt: skip
    jobs = []
    for job in client.list_pipeline_jobs(request=request, retry=clients.retry()):
        if is_managed(job.labels):
            jobs.append(job)
        if len(jobs) >= limit:
            break
    by_label: dict[str, list[Deployment]] = {}
    for deployment in deployments(project, region) if jobs else []:
        by_label.setdefault(deployment.run_label, []).append(deployment)
    now = datetime.datetime.now(datetime.UTC)
    out = []
    for job in jobs:
        label = naming.run_label_value(job.name)
        keeps = by_label.get(label, [])
        costs = [d.cost_so_far for d in keeps]
        start = job.start_time
        duration = None if not start else _seconds_since(start, job.end_time or now)
        out.append(RunSummary(
            job.name, job.display_name, job.state.name.removeprefix("PIPELINE_STATE_"),
            start.isoformat().replace("+00:00", "Z") if start else "", duration, label, keeps,
            None if not keeps or None in costs else round(sum(c for c in costs if c is not None), 4),
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class LogLine:
    """One log entry: where it came from (a step, or ``serving``), when, its severity and text."""

    source: str
    timestamp: str
    severity: str
    text: str
    insert_id: str = ""


def task_log_filter(job_ids: list[str], since_rfc3339: str) -> str:
    """Log entries of the pipeline tasks' CustomJobs since a time."""
    ids = " OR ".join(f'resource.labels.job_id="{i}"' for i in job_ids)
    return f'resource.type="{TASK_RESOURCE_TYPE}" AND ({ids}) AND timestamp>="{since_rfc3339}"'


def run_logs(job, step: str = "", serving: bool = False, since_rfc3339: str = "", limit: int = 1000) -> list[LogLine]:
    """The log lines of a run's tasks (only ``step`` when given) and, with ``serving``, of its endpoint.

    ``job`` is the ``aiplatform_v1.PipelineJob``; each task's log is its CustomJob's
    (``executor_detail.container_detail.main_job``). Oldest first.
    """
    from vllm_vertex.cloud import jobs
    from vllm_vertex.cloud.logs import log_filter

    project = job.name.split("/")[1]
    since = since_rfc3339 or _rfc3339(job.create_time)
    tasks = {}
    for task in job.job_detail.task_details:
        main = task.executor_detail.container_detail.main_job if task.executor_detail else ""
        if main and (not step or task.task_name == step):
            tasks[main.rsplit("/", 1)[-1]] = task.task_name
    queries = []
    if tasks:
        queries.append((task_log_filter(list(tasks), since), lambda e: tasks.get(e.resource.labels.get("job_id"), "")))
    endpoint = jobs.outcome(job).endpoint if serving else ""
    if endpoint:
        queries.append((log_filter(endpoint, since), lambda e: "serving"))
    lines = []
    for flt, source in queries:
        lines += [_line(entry, source(entry)) for entry in _entries(project, flt, limit)]
    return sorted(lines, key=lambda line: (line.timestamp, line.insert_id))


def _entries(project: str, flt: str, limit: int) -> list:
    import itertools

    from google.cloud import logging as cloud_logging

    from vllm_vertex.cloud.context import current

    client = current().logging(project)
    found = client.list_entries(resource_names=[f"projects/{project}"], filter_=flt,
                                order_by=cloud_logging.ASCENDING, page_size=min(limit, 1000))  # fmt: skip
    return list(itertools.islice(found, limit))


def _line(entry, source: str) -> LogLine:
    payload = entry.payload
    if isinstance(payload, dict):
        payload = payload.get("message") or payload.get("textPayload") or str(payload)
    stamp = _rfc3339(entry.timestamp) if entry.timestamp else ""
    return LogLine(source, stamp, str(entry.severity or "DEFAULT"), str(payload or ""), str(entry.insert_id or ""))


def _rfc3339(stamp) -> str:
    if not stamp:
        return ""
    utc = stamp.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


@dataclass(frozen=True)
class Expired:
    """An endpoint of ours whose ``vllm-vertex-keep-until`` has passed.

    Attributes:
        endpoint: ``projects/P/locations/L/endpoints/E``.
        run_label: Its run label ("" when it has none: then it is reported, not removed).
        keep_until: The Unix time its label gives.
    """

    endpoint: str
    run_label: str
    keep_until: int


def expired(project: str, region: str, now: float) -> list[Expired]:
    """Endpoints labelled ``managed-by=vllm-vertex`` whose ``vllm-vertex-keep-until`` is before ``now``.

    Only endpoints carrying ``managed-by=vllm-vertex`` are looked at (the server filters, and the labels
    are checked again here); a keep-until that is not a whole number is left alone.
    """
    client = clients.endpoint_client(region)
    request = {"parent": f"projects/{project}/locations/{region}",
               "filter": f"{_MANAGED} AND labels.{naming.KEEP_UNTIL_KEY}:*"}  # fmt: skip
    found = []
    for endpoint in client.list_endpoints(request=request, retry=clients.retry()):
        labels = dict(endpoint.labels)
        until = labels.get(naming.KEEP_UNTIL_KEY, "")
        if is_managed(labels) and until.isdigit() and int(until) < now:
            found.append(Expired(endpoint.name, labels.get(naming.RUN_LABEL_KEY, ""), int(until)))
    return found
