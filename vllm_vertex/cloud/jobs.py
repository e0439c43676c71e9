"""Pipeline runs and their schedules: submit, follow, cancel; create, list, pause, resume, delete.

The PipelineJob is built by the Vertex SDK's ``aiplatform.PipelineJob`` (it reads the compiled
YAML, fills the runtime config, turns caching off) and sent with the GAPIC clients of
``clients``, so that the client context (``cloud.context``) reaches every call and the SDK's attempt to
create a Cloud Storage bucket at submit time is skipped (``pipeline_root`` must exist).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from vllm_vertex import clock, naming
from vllm_vertex.cloud import clients
from vllm_vertex.configfile import PipelineSettings, ScheduleSettings
from vllm_vertex.errors import BadInput
from vllm_vertex.finish import RunOutcome
from vllm_vertex.redact import mask

__all__ = [
    "RunOutcome",
    "Submission",
    "cancel",
    "change_schedule",
    "create_schedule",
    "deploy_stage",
    "follow",
    "get",
    "list_schedules",
    "outcome",
    "submit",
    "template_values",
]

SMOKE_TASK = "smoke-test"
DEPLOY_TASK = "place-and-deploy"
ENDPOINT_TASKS = ("place-and-deploy", "read-endpoint")  # deploy-and-verify, canary
TERMINAL = ("PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLED")


@dataclass(frozen=True)
class Submission:
    """A compiled pipeline with its parameter values and where and how it runs."""

    template_path: str
    parameter_values: dict
    project: str
    region: str
    settings: PipelineSettings

    @property
    def parent(self) -> str:
        """``projects/P/locations/L``."""
        return f"projects/{self.project}/locations/{self.region}"


def template_values(template_path: str, values: dict) -> dict:
    """``values``, checked against the parameters the template declares.

    Raises:
        BadInput: the template lacks a parameter of the run (it was compiled for another pipeline).
    """
    import yaml

    with open(template_path, encoding="utf-8") as f:
        declared = yaml.safe_load(f).get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    unknown = sorted(k for k in values if k not in declared)
    if unknown:
        raise BadInput(
            f"{template_path} has no parameter {', '.join(unknown)}: it was compiled for another pipeline.",
            fix="give the YAML `vllm-vertex compile` wrote for this run's pipeline, or leave --yaml out",
        )
    return {k: v for k, v in values.items() if k in declared}


def build_job(sub: Submission):
    """The ``aiplatform_v1.PipelineJob`` to create (caching off) and a unique job ID.

    Raises:
        ValueError: the template has no such parameter, or a value has the wrong type (SDK's check).
    """
    from google.cloud import aiplatform, aiplatform_v1

    job = aiplatform.PipelineJob(
        display_name=sub.settings.display_name or "-",  # "-": replaced by the pipeline's name below
        template_path=sub.template_path,
        pipeline_root=sub.settings.pipeline_root,
        parameter_values=sub.parameter_values,
        enable_caching=False,
        labels={**naming.MANAGED_BY, **sub.settings.labels},
        project=sub.project,
        location=sub.region,
        credentials=clients.credentials(),
    )
    resource = aiplatform_v1.PipelineJob.from_json(json.dumps(job.to_dict()))  # public form of the built job
    resource.display_name = sub.settings.display_name or resource.pipeline_spec["pipelineInfo"]["name"]
    resource.service_account = sub.settings.service_account
    resource.network = sub.settings.network
    return resource, f"{job.job_id}-{secrets.token_hex(3)}"


def submit(sub: Submission):
    """Creates the run; returns the created ``aiplatform_v1.PipelineJob`` (its ``name`` names the run)."""
    resource, job_id = build_job(sub)
    client = clients.pipeline_client(sub.region)
    return client.create_pipeline_job(parent=sub.parent, pipeline_job=resource, pipeline_job_id=job_id)


def cancel(job_name: str) -> None:
    """Asks Vertex to cancel the run (it ends CANCELLED; the exit handler still cleans up)."""
    clients.pipeline_client(_region(job_name)).cancel_pipeline_job(name=job_name)


def get(job_name: str):
    """The ``aiplatform_v1.PipelineJob`` as it stands."""
    return clients.pipeline_client(_region(job_name)).get_pipeline_job(
        name=job_name, retry=clients.retry()
    )


def follow(
    job_name: str,
    log: Callable[[str], None] = print,
    poll_seconds: float = 15.0,
):
    """Polls the run until it ends, logging one line per run or task state change.

    While the deploy step runs, each stage of the deploy operation (its metadata's
    ``deploymentStage``: starting, starting the model server, deployed) is logged as it changes.

    Returns:
        The final ``aiplatform_v1.PipelineJob``.
    """
    client = clients.pipeline_client(_region(job_name))
    seen: dict[str, str] = {}
    start = clock.monotonic()
    while True:
        job = client.get_pipeline_job(name=job_name, retry=clients.retry())
        lines = state_changes(job, seen)
        stage = _deploy_stage_change(job, seen)
        for line in lines + ([stage] if stage else []):
            log(f"[{clock.monotonic() - start:8.1f}s] {line}")
        if job.state.name in TERMINAL:
            return job
        _pause(poll_seconds)


def _deploy_stage_change(job, seen: dict[str, str]) -> str:
    """``place-and-deploy: stage X`` when the running deploy's stage differs from the last one seen."""
    task = _task(job, DEPLOY_TASK)
    if task is None or task.state.name not in ("RUNNING", "SUCCEEDED", "FAILED"):
        return ""
    endpoint = _endpoint_artifact(job).get("resourceName", "") or (
        _placing_endpoint(job) if task.state.name == "RUNNING" else "")
    if not endpoint:
        return ""
    if task.state.name != "RUNNING" and seen.get("stage:") is None:
        return ""  # attached after the deploy ended: its stages are history
    stage = deploy_stage(endpoint)
    if not stage or seen.get("stage:") == stage:
        return ""
    seen["stage:"] = stage
    return f"{DEPLOY_TASK}: stage {stage}"


def _placing_endpoint(job) -> str:
    """The newest endpoint of the run while place-and-deploy runs (its artifact comes only at the end).

    Found by the run label (derived from the job's name, as the steps derive it) in every region the
    run's placements name; "" when none is found or the listing fails.
    """
    from vllm_vertex.placements import regions

    try:
        label = naming.run_label_value(job.name)
        found = []
        for region in regions(_region(job.name), _parameter(job, "placements") or []):
            request = {"parent": f"projects/{job.name.split('/')[1]}/locations/{region}",
                       "filter": naming.label_filter(label)}
            found += list(clients.endpoint_client(region).list_endpoints(request=request, retry=clients.retry()))
    except Exception:  # following is an aid: a read that fails shows no stage, never stops the follow
        return ""
    return max(found, key=lambda e: e.create_time).name if found else ""


def deploy_stage(endpoint_name: str) -> str:
    """The ``deploymentStage`` of the endpoint's latest deploy operation, or "" when none can be read."""
    from google.cloud import aiplatform_v1

    try:
        client = clients.endpoint_client(_region(endpoint_name))
        ops = list(client.list_operations(request={"name": endpoint_name}).operations)
    except Exception:  # following is an aid: a read that fails shows no stage, never stops the follow
        return ""
    stages = []
    for op in ops:
        if not op.metadata.type_url.endswith("DeployModelOperationMetadata"):
            continue
        meta = aiplatform_v1.DeployModelOperationMetadata.deserialize(op.metadata.value)
        stages.append((meta.generic_metadata.update_time or meta.generic_metadata.create_time, op.done, meta))
    if not stages:
        return ""
    running = [s for s in stages if not s[1]]
    _, _, meta = max(running or stages, key=lambda s: (s[0] is not None, s[0] or 0))
    stage = meta.deployment_stage
    return stage.name if stage else ""


def _pause(seconds: float) -> None:
    """Waits between polls (Ctrl-C lands here most of the time)."""
    clock.sleep(seconds)


def state_changes(job, seen: dict[str, str]) -> list[str]:
    """Lines for the run and each task whose state differs from ``seen`` (updated in place).

    The run's own line comes first, or last when the run has ended.
    """
    tasks = []
    for task in job.job_detail.task_details:
        state = task.state.name
        if seen.get(task.task_name) != state:
            seen[task.task_name] = state
            error = f" — {mask(task.error.message)}" if task.error.message else ""
            tasks.append(f"{task.task_name}: {state}{_took(task)}{error}")
    run_state = job.state.name.removeprefix("PIPELINE_STATE_")
    if seen.get("") == run_state:
        return tasks
    seen[""] = run_state
    return [*tasks, f"run: {run_state}"] if job.state.name in TERMINAL else [f"run: {run_state}", *tasks]


def _took(task) -> str:
    if task.end_time and task.start_time:
        return f" (took {(task.end_time - task.start_time).total_seconds():.0f}s)"
    return ""


def outcome(job) -> RunOutcome:
    """Reads the run's state, the smoke verdict and Metrics, its endpoint, report and teardown policy."""
    result = RunOutcome(job.state.name.removeprefix("PIPELINE_STATE_"), error=mask(job.error.message), name=job.name)
    endpoint = _endpoint_artifact(job)
    result.endpoint = str(endpoint.get("resourceName", ""))
    result.dedicated_dns = str(endpoint.get("dedicatedEndpointDns", "") or "")
    result.teardown_policy = str(_parameter(job, "teardown_policy") or "")
    result.machine_type = str(_parameter(job, "machine_type") or "")
    result.replicas = int(_parameter(job, "min_replica_count") or 1)
    result.spot = bool(_parameter(job, "spot"))
    _placement(job, result)
    smoke = _task(job, SMOKE_TASK)
    if smoke is None:
        return result
    result.verdict = str(smoke.execution.metadata.get("output:verdict", ""))
    metrics = smoke.outputs.get("metrics")
    if metrics and metrics.artifacts:
        meta = metrics.artifacts[0].metadata
        result.figures = {k: float(v) for k, v in meta.items() if isinstance(v, int | float)}
    report = smoke.outputs.get("report")
    if report and report.artifacts:
        result.report_uri = report.artifacts[0].uri
    return result


def _placement(job, result: RunOutcome) -> None:
    """What place-and-deploy says: where it landed (its machine and spot win over the run's) and every attempt."""
    from vllm_vertex.placements import regions

    here = _region(job.name) if job.name.count("/") >= 3 else ""
    result.also_in = [r for r in regions(here, _parameter(job, "placements") or []) if r != here] if here else []
    task = _task(job, DEPLOY_TASK)
    if task is None:
        return
    try:
        placed = json.loads(task.execution.metadata.get("output:placement", "") or "{}")
        result.attempts = list(json.loads(task.execution.metadata.get("output:attempts", "") or "[]"))
    except (TypeError, ValueError):  # an older run, or a step that did not finish: nothing to add
        return
    if placed.get("machine_type"):
        result.machine_type, result.spot = str(placed["machine_type"]), bool(placed.get("spot"))


def _task(job, name: str):
    return next((t for t in job.job_detail.task_details if t.task_name == name), None)


def _endpoint_artifact(job) -> dict:
    """Metadata of the endpoint artifact (place-and-deploy's, or the canary's read-endpoint's)."""
    for name in ENDPOINT_TASKS:
        task = _task(job, name)
        found = task.outputs.get("endpoint") if task is not None else None
        if found and found.artifacts:
            return dict(found.artifacts[0].metadata)
    return {}


def _parameter(job, key: str):
    """A run's parameter value: the one it was given, else the compiled default."""
    given = job.runtime_config.parameter_values
    if key in given:
        return given[key]
    spec = job.pipeline_spec or {}
    try:
        default = spec["root"]["inputDefinitions"]["parameters"][key].get("defaultValue")
    except (KeyError, TypeError, AttributeError):
        return None
    return default


def create_schedule(sub: Submission, schedule: ScheduleSettings):
    """Creates a cron schedule of the run; returns the ``aiplatform_v1.Schedule``."""
    from google.cloud import aiplatform_v1

    resource, _ = build_job(sub)
    request = aiplatform_v1.CreatePipelineJobRequest(parent=sub.parent, pipeline_job=resource)
    body = aiplatform_v1.Schedule(
        display_name=schedule.display_name or f"{resource.display_name}-schedule",
        cron=schedule.cron,
        max_concurrent_run_count=schedule.max_concurrent_runs,
        max_run_count=schedule.max_runs,
        create_pipeline_job_request=request,
    )
    return clients.schedule_client(sub.region).create_schedule(parent=sub.parent, schedule=body)


def list_schedules(project: str, region: str) -> list:
    """Every schedule in the project and region."""
    client = clients.schedule_client(region)
    return list(client.list_schedules(parent=f"projects/{project}/locations/{region}", retry=clients.retry()))


def change_schedule(schedule_name: str, action: str) -> None:
    """``pause``, ``resume`` or ``delete`` one schedule (delete waits for the operation)."""
    client = clients.schedule_client(_region(schedule_name))
    if action == "pause":
        client.pause_schedule(name=schedule_name)
    elif action == "resume":
        client.resume_schedule(name=schedule_name)
    elif action == "delete":
        from vllm_vertex.cloud import operations

        # polled by vllm_vertex.clock (tests: virtual time), like the other operations
        operations.tolerant(client.delete_schedule(name=schedule_name), _region(schedule_name)).result(timeout=300)
    else:
        raise ValueError(f"unknown schedule action {action!r}; use pause, resume or delete.")


def _region(resource_name: str) -> str:
    return resource_name.split("/")[3]
