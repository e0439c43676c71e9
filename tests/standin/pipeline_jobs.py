"""Vertex AI PipelineService and ScheduleService routes: pipelineJobs and schedules.

The stand-in does not execute pipelines. A created run plays a script: a list of ``Frame``s,
one per ``get`` of the run (the first ``get`` shows the first frame), so a test decides every
task-state transition and the smoke-test outputs without any timing. ``pipelines(standin)``
gives the store: ``.script`` (frames for the next runs), ``.jobs``, ``.schedules`` and
``.created`` (request bodies as received).
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

from .aiplatform import _filter, _labels, _required, parent, type_prefix
from .state import GoogleError, now

__all__ = ["Frame", "PipelineStore", "ROUTES", "endpoint_artifact", "pipelines", "run_script", "task_job"]

_AI = "aiplatform.projects.locations."
_TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
_JOB_ID = re.compile(r"^[a-z][-a-z0-9]{0,127}$")
_CRON_FIELD = r"[0-9*/,\-A-Za-z?LW#]+"
_CRON = re.compile(rf"^((CRON_)?TZ=[A-Za-z_/+\-0-9]+ )?{_CRON_FIELD}( {_CRON_FIELD}){{4}}$")


@dataclass
class Frame:
    """What ``get`` shows: the run state, each task's state, errors and the smoke-test outputs."""

    state: str  # RUNNING, SUCCEEDED, FAILED, ... (PIPELINE_STATE_ prefix added)
    tasks: dict[str, str] = field(default_factory=dict)  # task name → task state
    error: str = ""
    task_errors: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, dict] = field(default_factory=dict)  # task → output parameters
    metrics: dict[str, dict] = field(default_factory=dict)  # task → Metrics artifact metadata
    artifacts: dict[str, dict[str, dict]] = field(default_factory=dict)  # task → output → Artifact JSON


DEPLOY_TASKS = [
    "validate-config",
    "check-quota",
    "place-and-deploy",
    "smoke-test",
    "check-verdict",
]


def endpoint_artifact(endpoint_name: str, dedicated_dns: str = "") -> dict:
    """The ``google.VertexEndpoint`` output of place-and-deploy (or read-endpoint) as Vertex returns it."""
    meta = {"resourceName": endpoint_name, "dedicatedEndpointDns": dedicated_dns}
    region = endpoint_name.split("/")[3]
    uri = f"https://{region}-aiplatform.googleapis.com/v1/{endpoint_name}"
    return {"name": "artifacts/endpoint", "schemaTitle": "google.VertexEndpoint", "uri": uri, "metadata": meta}


def run_script(
    tasks: list[str] | None = None,
    *,
    fail_at: str = "",
    verdict: str = "passed",
    figures: dict | None = None,
    endpoint: str = "",
    deploy_frames: int = 1,
) -> list[Frame]:
    """Frames of a run: PENDING, then each task RUNNING → SUCCEEDED in turn, then the end.

    ``fail_at`` fails that task (and the run); ``verdict="failed"`` lets the smoke test finish
    with a failed verdict and fails ``check-verdict``, as the real pipeline does. ``endpoint``
    makes place-and-deploy output that endpoint (and smoke-test its report); ``deploy_frames``
    shows place-and-deploy RUNNING that many times (a follower reads the deploy stage in each).
    """
    tasks = list(tasks or DEPLOY_TASKS)
    figures = figures if figures is not None else {"checks_passed": 3.0, "checks_failed": 0.0}
    frames, done = [Frame("PENDING")], {}
    artifacts: dict[str, dict[str, dict]] = {}
    for name in tasks:
        for _ in range(deploy_frames if name == "place-and-deploy" else 1):
            frames.append(Frame("RUNNING", {**done, name: "RUNNING"}, artifacts=dict(artifacts)))
        if name == fail_at:
            message = f"The DAG failed because some tasks failed. The failed tasks are: [{name}]."
            frames.append(Frame("FAILED", {**done, name: "FAILED"}, message, {name: f"{name} failed"},
                                artifacts=dict(artifacts)))  # fmt: skip
            return frames
        done[name] = "SUCCEEDED"
        if name in ("place-and-deploy", "read-endpoint") and endpoint:
            artifacts[name] = {"endpoint": endpoint_artifact(endpoint)}
        if name == "smoke-test" and endpoint:
            report = {"name": "artifacts/report", "schemaTitle": "system.Markdown",
                      "uri": "gs://my-bucket/vllm-vertex/pipeline-root/run/smoke-test/report", "metadata": {}}  # fmt: skip
            artifacts[name] = {"report": report}
    end = Frame("SUCCEEDED", dict(done), artifacts=dict(artifacts))
    if "smoke-test" in done:
        end.parameters["smoke-test"] = {"verdict": verdict, "passed": int(figures.get("checks_passed", 0))}
        end.metrics["smoke-test"] = figures
    if verdict != "passed":
        end.state, end.error = (
            "FAILED",
            "The DAG failed because some tasks failed. The failed tasks are: [check-verdict].",
        )
        end.tasks["check-verdict"] = "FAILED"  # the gate fails the run
        end.task_errors["check-verdict"] = "smoke tests failed"
    frames.append(end)
    return frames


@dataclass
class PipelineStore:
    """Runs and schedules of one stand-in."""

    script: list[Frame] = field(default_factory=run_script)
    jobs: dict = field(default_factory=dict)  # name → PipelineJob JSON as created
    frames: dict = field(default_factory=dict)  # name → frames left to show
    shown: dict = field(default_factory=dict)  # name → last frame shown
    schedules: dict = field(default_factory=dict)  # name → Schedule JSON
    created: list = field(default_factory=list)  # pipelineJobs.create bodies


_STORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def pipelines(standin) -> PipelineStore:
    """The pipeline store of ``standin`` (created on first use)."""
    with standin.state.lock:
        return _STORES.setdefault(standin, PipelineStore())


def _check_job(body: dict) -> None:
    _required(body.get("pipelineSpec"), "pipeline_job.pipeline_spec")
    _labels(body.get("labels"))
    runtime = body.get("runtimeConfig") or {}
    _required(runtime.get("gcsOutputDirectory"), "pipeline_job.runtime_config.gcs_output_directory")
    declared = body["pipelineSpec"].get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    given = runtime.get("parameterValues", {})
    unknown = sorted(set(given) - set(declared))
    missing = sorted(
        k for k, p in declared.items() if k not in given and "defaultValue" not in p and not p.get("isOptional")
    )
    if unknown or missing:
        raise GoogleError(400, f"Invalid runtime parameters: unknown {unknown}, missing required {missing}.")


def create_job(st, req) -> dict:
    body = dict(req.json)
    _check_job(body)
    job_id = req.query.get("pipelineJobId") or f"job-{st.state.new_id()}"
    if not _JOB_ID.match(job_id):
        raise GoogleError(400, f"Invalid pipeline job id {job_id!r}: expected [a-z][-a-z0-9]{{0,127}}.")
    name = f"{parent(req)}/pipelineJobs/{job_id}"
    store = pipelines(st)
    ts = now()
    job = {**body, "name": name, "createTime": ts, "updateTime": ts, "state": "PIPELINE_STATE_PENDING"}
    with st.state.lock:
        if name in store.jobs:
            raise GoogleError(409, f"PipelineJob {name} already exists.")
        store.jobs[name] = job
        store.frames[name] = list(store.script)
        store.created.append(body)
    return job


def _job(st, req) -> str:
    name = f"{parent(req)}/pipelineJobs/{req.param('pipelineJobsId')}"
    if name not in pipelines(st).jobs:
        raise GoogleError(404, f"PipelineJob {name} not found.")
    return name


def get_job(st, req) -> dict:
    name, store = _job(st, req), pipelines(st)
    with st.state.lock:
        if store.frames[name]:
            store.shown[name] = store.frames[name].pop(0)
        return _render(store.jobs[name], store.shown.get(name))


def _render(job: dict, frame: Frame | None) -> dict:
    if frame is None:
        return job
    ts = now()
    out = {**job, "state": f"PIPELINE_STATE_{frame.state}", "startTime": job["createTime"], "updateTime": ts}
    if frame.state in _TERMINAL:
        out["endTime"] = ts
    if frame.error:
        out["error"] = {"code": 9, "message": frame.error}
    details = [_task(i, name, state, frame, ts) for i, (name, state) in enumerate(frame.tasks.items(), start=1)]
    for task in details:
        task["executorDetail"] = {"containerDetail": {"mainJob": task_job(job["name"], task["taskName"])}}
    out["jobDetail"] = {"taskDetails": details}
    return out


def _task(i: int, name: str, state: str, frame: Frame, ts: str) -> dict:
    task = {"taskId": str(1000 + i), "taskName": name, "state": state, "createTime": ts, "startTime": ts}
    if state in _TERMINAL:
        task["endTime"] = ts
    if name in frame.task_errors:
        task["error"] = {"code": 9, "message": frame.task_errors[name]}
    params = {f"output:{k}": v for k, v in frame.parameters.get(name, {}).items()}
    task["execution"] = {"name": f"executions/{1000 + i}", "state": "COMPLETE", "metadata": params}
    outputs = {out: {"artifacts": [artifact]} for out, artifact in frame.artifacts.get(name, {}).items()}
    if name in frame.metrics:
        artifact = {"name": f"artifacts/{1000 + i}", "schemaTitle": "system.Metrics", "metadata": frame.metrics[name]}
        outputs["metrics"] = {"artifacts": [artifact]}
    if outputs:
        task["outputs"] = outputs
    return task


def cancel_job(st, req) -> dict:
    name, store = _job(st, req), pipelines(st)
    with st.state.lock:
        shown = store.shown.get(name)
        if shown is not None and shown.state in _TERMINAL:
            raise GoogleError(400, f"Cannot cancel PipelineJob {name} in state {shown.state}.", "FAILED_PRECONDITION")
        tasks = dict(shown.tasks) if shown else {}
        ended = {t: ("CANCELLED" if s in ("RUNNING", "PENDING") else s) for t, s in tasks.items()}
        store.frames[name] = [Frame("CANCELLING", tasks), Frame("CANCELLED", ended, "The pipeline was cancelled.")]
    return {}


def list_jobs(st, req) -> dict:
    """``pipelineJobs.list`` honouring label filters, ``orderBy=create_time desc`` and paging."""
    prefix = parent(req) + "/pipelineJobs/"
    store, match = pipelines(st), _filter(req.query.get("filter", ""))
    with st.state.lock:
        jobs = [_render(j, store.shown.get(n)) for n, j in store.jobs.items() if n.startswith(prefix) and match(j)]
    order = req.query.get("orderBy", "").replace("createTime", "create_time").split()
    if order and order[0] == "create_time":  # creation order: the dict keeps it (times can tie)
        jobs = jobs[::-1] if order[-1] == "desc" else jobs
    start = int(req.query.get("pageToken") or 0)
    size = int(req.query.get("pageSize") or 0) or len(jobs) or 1
    out: dict = {"pipelineJobs": jobs[start:start + size]} if jobs[start:start + size] else {}
    if start + size < len(jobs):
        out["nextPageToken"] = str(start + size)
    return out


def task_job(job_name: str, task_name: str) -> str:
    """The CustomJob a task of the run ran as (its log's ``resource.labels.job_id`` is the last part)."""
    project, region = job_name.split("/")[1], job_name.split("/")[3]
    digest = sum(map(ord, job_name + task_name)) % 10**9
    return f"projects/{project}/locations/{region}/customJobs/{digest}"


def create_schedule(st, req) -> dict:
    body = dict(req.json)
    _required(body.get("displayName"), "schedule.display_name")
    _required(body.get("createPipelineJobRequest"), "schedule.create_pipeline_job_request")
    if not _CRON.match(body.get("cron", "")):
        raise GoogleError(400, f"Invalid cron expression: {body.get('cron')!r}.")
    if int(body.get("maxConcurrentRunCount") or 0) < 1:
        raise GoogleError(400, "schedule.max_concurrent_run_count must be greater than 0.")
    _check_job(body["createPipelineJobRequest"].get("pipelineJob") or {})
    name = f"{parent(req)}/schedules/{st.state.new_id()}"
    ts = now()
    schedule = {**body, "name": name, "state": "ACTIVE", "createTime": ts, "updateTime": ts, "nextRunTime": ts}
    schedule["startTime"] = ts
    with st.state.lock:
        pipelines(st).schedules[name] = schedule
    return schedule


def _schedule(st, req) -> dict:
    name = f"{parent(req)}/schedules/{req.param('schedulesId')}"
    found = pipelines(st).schedules.get(name)
    if found is None:
        raise GoogleError(404, f"Schedule {name} not found.")
    return found


def _transition(st, req, source: str, target: str, stamp: str) -> dict:
    with st.state.lock:
        schedule = _schedule(st, req)
        if schedule["state"] != source:
            raise GoogleError(
                400, f"Schedule {schedule['name']} is {schedule['state']}, not {source}.", "FAILED_PRECONDITION"
            )
        schedule.update(state=target, updateTime=now(), **{stamp: now()})
    return {}


def list_schedules(st, req) -> dict:
    prefix = parent(req) + "/schedules/"
    with st.state.lock:
        found = [s for n, s in pipelines(st).schedules.items() if n.startswith(prefix)]
    return {"schedules": found} if found else {}


def delete_schedule(st, req) -> dict:
    with st.state.lock:
        name = _schedule(st, req)["name"]
        del pipelines(st).schedules[name]
    op = st.state.new_operation(parent(req), type_prefix(req), "DeleteOperationMetadata")
    st.state.finish(op)
    return op.render(initial=True)


ROUTES = {
    _AI + "pipelineJobs.create": create_job,
    _AI + "pipelineJobs.get": get_job,
    _AI + "pipelineJobs.list": list_jobs,
    _AI + "pipelineJobs.cancel": cancel_job,
    _AI + "schedules.create": create_schedule,
    _AI + "schedules.get": lambda st, req: _schedule(st, req),
    _AI + "schedules.list": list_schedules,
    _AI + "schedules.pause": lambda st, req: _transition(st, req, "ACTIVE", "PAUSED", "lastPauseTime"),
    _AI + "schedules.resume": lambda st, req: _transition(st, req, "PAUSED", "ACTIVE", "lastResumeTime"),
    _AI + "schedules.delete": delete_schedule,
}
