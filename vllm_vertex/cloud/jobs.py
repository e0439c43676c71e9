"""Pipeline runs and their schedules: submit, follow, cancel; create, list, pause, resume, delete.

The PipelineJob is built by the Vertex SDK's ``aiplatform.PipelineJob`` (it reads the compiled
YAML, fills the runtime config, turns caching off) and sent with the GAPIC clients of
``clients``, so that the ``api_endpoint`` override reaches every call and the SDK's attempt to
create a Cloud Storage bucket at submit time is skipped (``pipeline_root`` must exist).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vllm_vertex import naming
from vllm_vertex.cloud import clients
from vllm_vertex.configfile import PipelineSettings, ScheduleSettings

__all__ = [
    "RunOutcome",
    "Submission",
    "cancel",
    "change_schedule",
    "create_schedule",
    "follow",
    "list_schedules",
    "outcome",
    "submit",
    "template_values",
]

SMOKE_TASK = "smoke-test"
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
    """``values`` without the test hooks (``api_endpoint``, ``hf_endpoint``) the template does not declare.

    Production YAML has no hooks; a test that submits it through the stand-in still passes one.
    """
    import yaml

    with open(template_path, encoding="utf-8") as f:
        declared = yaml.safe_load(f).get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {k: v for k, v in values.items() if k in declared or k not in ("api_endpoint", "hf_endpoint")}


def build_job(sub: Submission, api_endpoint: str = ""):
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
        credentials=clients.credentials(api_endpoint),
    )
    resource = aiplatform_v1.PipelineJob.from_json(json.dumps(job.to_dict()))  # public form of the built job
    resource.display_name = sub.settings.display_name or resource.pipeline_spec["pipelineInfo"]["name"]
    resource.service_account = sub.settings.service_account
    resource.network = sub.settings.network
    return resource, f"{job.job_id}-{secrets.token_hex(3)}"


def submit(sub: Submission, api_endpoint: str = ""):
    """Creates the run; returns the created ``aiplatform_v1.PipelineJob`` (its ``name`` names the run)."""
    resource, job_id = build_job(sub, api_endpoint)
    client = clients.pipeline_client(sub.region, api_endpoint)
    return client.create_pipeline_job(parent=sub.parent, pipeline_job=resource, pipeline_job_id=job_id)


def cancel(job_name: str, api_endpoint: str = "") -> None:
    """Asks Vertex to cancel the run (it ends CANCELLED; the exit handler still cleans up)."""
    clients.pipeline_client(_region(job_name), api_endpoint).cancel_pipeline_job(name=job_name)


def follow(
    job_name: str,
    api_endpoint: str = "",
    log: Callable[[str], None] = print,
    poll_seconds: float = 15.0,
):
    """Polls the run until it ends, logging one line per run or task state change.

    Returns:
        The final ``aiplatform_v1.PipelineJob``.
    """
    client = clients.pipeline_client(_region(job_name), api_endpoint)
    seen: dict[str, str] = {}
    start = time.monotonic()
    while True:
        job = client.get_pipeline_job(name=job_name, retry=clients.retry())
        for line in state_changes(job, seen):
            log(f"[{time.monotonic() - start:8.1f}s] {line}")
        if job.state.name in TERMINAL:
            return job
        _pause(poll_seconds)


def _pause(seconds: float) -> None:
    """Waits between polls (Ctrl-C lands here most of the time)."""
    time.sleep(seconds)


def state_changes(job, seen: dict[str, str]) -> list[str]:
    """Lines for the run and each task whose state differs from ``seen`` (updated in place).

    The run's own line comes first, or last when the run has ended.
    """
    tasks = []
    for task in job.job_detail.task_details:
        state = task.state.name
        if seen.get(task.task_name) != state:
            seen[task.task_name] = state
            error = f" — {task.error.message}" if task.error.message else ""
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


@dataclass
class RunOutcome:
    """How a run ended: its state, the smoke-test verdict and figures."""

    state: str
    verdict: str = ""
    figures: dict[str, float] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        """The run succeeded and the smoke tests passed (the CI gate)."""
        return self.state == "SUCCEEDED" and self.verdict == "passed"

    def lines(self) -> list[str]:
        """The summary printed at the end of ``submit --wait``."""
        out = [f"run {self.state}" + (f": {self.error}" if self.error else "")]
        out.append(f"smoke tests: {self.verdict or 'did not run'}")
        out += [f"  {k}: {v:g}" for k, v in sorted(self.figures.items())]
        return out


def outcome(job) -> RunOutcome:
    """Reads the verdict (``output:verdict`` of the smoke-test execution) and its Metrics artifact."""
    result = RunOutcome(job.state.name.removeprefix("PIPELINE_STATE_"), error=job.error.message)
    smoke = next((t for t in job.job_detail.task_details if t.task_name == SMOKE_TASK), None)
    if smoke is None:
        return result
    result.verdict = str(smoke.execution.metadata.get("output:verdict", ""))
    metrics = smoke.outputs.get("metrics")
    if metrics and metrics.artifacts:
        meta = metrics.artifacts[0].metadata
        result.figures = {k: float(v) for k, v in meta.items() if isinstance(v, int | float)}
    return result


def create_schedule(sub: Submission, schedule: ScheduleSettings, api_endpoint: str = ""):
    """Creates a cron schedule of the run; returns the ``aiplatform_v1.Schedule``."""
    from google.cloud import aiplatform_v1

    resource, _ = build_job(sub, api_endpoint)
    request = aiplatform_v1.CreatePipelineJobRequest(parent=sub.parent, pipeline_job=resource)
    body = aiplatform_v1.Schedule(
        display_name=schedule.display_name or f"{resource.display_name}-schedule",
        cron=schedule.cron,
        max_concurrent_run_count=schedule.max_concurrent_runs,
        max_run_count=schedule.max_runs,
        create_pipeline_job_request=request,
    )
    return clients.schedule_client(sub.region, api_endpoint).create_schedule(parent=sub.parent, schedule=body)


def list_schedules(project: str, region: str, api_endpoint: str = "") -> list:
    """Every schedule in the project and region."""
    client = clients.schedule_client(region, api_endpoint)
    return list(client.list_schedules(parent=f"projects/{project}/locations/{region}", retry=clients.retry()))


def change_schedule(schedule_name: str, action: str, api_endpoint: str = "") -> None:
    """``pause``, ``resume`` or ``delete`` one schedule (delete waits for the operation)."""
    client = clients.schedule_client(_region(schedule_name), api_endpoint)
    if action == "pause":
        client.pause_schedule(name=schedule_name)
    elif action == "resume":
        client.resume_schedule(name=schedule_name)
    elif action == "delete":
        client.delete_schedule(name=schedule_name).result(timeout=300)
    else:
        raise ValueError(f"unknown schedule action {action!r}; use pause, resume or delete.")


def _region(resource_name: str) -> str:
    return resource_name.split("/")[3]
