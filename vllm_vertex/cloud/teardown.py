"""Removes what a run created: undeploy, delete endpoints, delete models, found by run label.

Used by the teardown step, the exit handler's cleanup and ``vllm-vertex teardown``. Safety
first: a resource is touched only when it carries both ``managed-by=vllm-vertex`` and exactly
this run's label, checked on the listing and again on a fresh read just before each delete. Every
step is idempotent: a resource already gone counts as removed.

Errors are sorted by what waiting can change (``classify``): a delete refused because an operation
on the resource is still running (a deploy or undeploy) and transient server errors are tried
again until ``wait_seconds``; a permission error, a bad request or a missing project fail at once,
naming the resource, the permission and the fix.
"""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vllm_vertex import clock, naming
from vllm_vertex.cloud import clients, operations
from vllm_vertex.errors import ResourcesLeft, TeardownError
from vllm_vertex.textsafe import plain

__all__ = [
    "EndpointTeardown",
    "PERMISSIONS",
    "TeardownReport",
    "classify",
    "find_run_resources",
    "plan_endpoint_teardown",
    "teardown_endpoint",
    "teardown_regions",
    "teardown_run",
    "teardown_run_or_raise",
]

# The IAM permission each call needs (Vertex AI REST reference, "IAM Permissions").
PERMISSIONS = {
    "list endpoints": "aiplatform.endpoints.list",
    "list models": "aiplatform.models.list",
    "read": "aiplatform.endpoints.get",
    "read model": "aiplatform.models.get",
    "undeploy": "aiplatform.endpoints.undeploy",
    "delete": "aiplatform.endpoints.delete",
    "delete model": "aiplatform.models.delete",
}

# What Vertex says when another operation on the resource is still running (FAILED_PRECONDITION):
# an endpoint or model with a deploy/undeploy in flight, or an operation in progress on it.
_IN_PROGRESS = re.compile(
    r"being (?:un)?deployed|deployed or being deployed|running operations?|operations? (?:is |are )?"
    r"(?:still )?(?:running|in progress)|in progress|currently being",
    re.I,
)
_DEPLOYED_AT = re.compile(r"projects/[^/\s,]+/locations/[^/\s,]+/endpoints/[0-9A-Za-z_-]+")


@dataclass
class TeardownReport:
    """What was removed, what could not be (with the reason), and what was not ours to touch."""

    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)

    @property
    def clean(self) -> bool:
        """True when nothing of this run is left behind."""
        return not self.failed

    def summary(self) -> str:
        """One line per resource."""
        lines = [f"removed {name}" for name in self.removed]
        lines += [f"LEFT {name}: {why}" for name, why in self.failed.items()]
        lines += [f"not touched {name}: {why}" for name, why in self.skipped.items()]
        return plain("\n".join(lines)) or "nothing to remove"


def classify(err: BaseException, action: str, name: str) -> tuple[bool, str]:
    """``(busy, text)``: whether waiting may help, and what to tell the user.

    Busy: 409 (ABORTED, a concurrent change), FAILED_PRECONDITION saying an operation on the
    resource is still running, transient 429/5xx and an operation still running past its wait.
    Everything else is permanent: 401, 403, other 400s, a 404 on the project or region.
    """
    from google.api_core import exceptions as exc

    message = _clean(getattr(err, "message", None) or str(err))
    transient = (exc.TooManyRequests, exc.ServiceUnavailable, exc.InternalServerError, exc.BadGateway,
                 exc.GatewayTimeout, exc.DeadlineExceeded, concurrent.futures.TimeoutError, TimeoutError)
    if isinstance(err, transient):
        return True, f"{action} {name}: {type(err).__name__}: {message} (transient)"
    if isinstance(err, (exc.Conflict, exc.Aborted)):
        return True, f"{action} {name}: busy, another change is in progress ({message})"
    status = _status(err)
    if isinstance(err, (exc.BadRequest, exc.FailedPrecondition)) and status in ("FAILED_PRECONDITION", "") and \
            _IN_PROGRESS.search(message):
        return True, f"{action} {name}: busy, an operation on it is still running ({message})"
    permission = PERMISSIONS.get(action, "aiplatform.endpoints.delete")
    project = name.split("/")[1] if name.startswith("projects/") else "the project"
    if isinstance(err, exc.Forbidden):  # PermissionDenied is a Forbidden
        return False, (
            f"{action} {name} was refused (403 {status or 'PERMISSION_DENIED'}): {message.rstrip('. ')}. The "
            "identity running the cleanup (the pipeline's service account, or you for `vllm-vertex teardown`) "
            f"lacks {permission} on project {project}. Fix: grant it a role with that permission (Vertex AI User, "
            "roles/aiplatform.user, has it), then remove what is left with `vllm-vertex teardown --run-label LABEL`, "
            "or delete it in the console."
        )
    from google.auth import exceptions as auth

    if isinstance(err, (exc.Unauthorized, auth.GoogleAuthError)):
        return False, (
            f"{action} {name} was refused (401): the credentials were not accepted or could not be refreshed "
            f"({type(err).__name__}: {message}). Fix: renew them "
            "(`gcloud auth application-default login`, or check the pipeline's service account), then run "
            "`vllm-vertex teardown --run-label LABEL`."
        )
    if isinstance(err, exc.NotFound):
        return False, (
            f"{action} {name}: 404 {message}. The project or region does not exist or is not visible to this "
            f"identity (it needs {permission}). Fix: check project and region."
        )
    code = getattr(err, "code", "")
    return False, (
        f"{action} {name} failed for good ({code} {status} {type(err).__name__}: {message}); waiting will not help. "
        "Fix the cause named here, then run `vllm-vertex teardown --run-label LABEL`."
    ).replace("  ", " ")


def _clean(message: str) -> str:
    """Google's error text without api_core's transport prefix (``DELETE http://...?%24alt=json...: ``)."""
    return re.sub(r"^(?:GET|POST|PUT|PATCH|DELETE) \S+: ", "", message.strip()) or "no message"


def _status(err: BaseException) -> str:
    """The canonical status (``FAILED_PRECONDITION``, ...) of a Google error, "" when unknown."""
    from google.api_core import exceptions as exc

    if isinstance(err, exc.FailedPrecondition):
        return "FAILED_PRECONDITION"
    response: Any = getattr(err, "response", None)
    try:
        return str(response.json()["error"].get("status", ""))
    except Exception:  # not an HTTP error with a Google JSON body
        return ""


def find_run_resources(project: str, region: str, run_label: str) -> tuple[list, list]:
    """Endpoints and models that carry ``managed-by=vllm-vertex`` and ``vllm-vertex-run=<run_label>``.

    The server filters on both labels, and the listing is checked again here.

    Raises:
        TeardownError: the listing was refused (permission) or the project or region does not exist.
    """
    from google.api_core import exceptions as exc
    from google.auth import exceptions as auth

    parent = f"projects/{project}/locations/{region}"
    request = {"parent": parent, "filter": naming.label_filter(run_label)}
    found = []
    for what, client, method in (
        ("list endpoints", clients.endpoint_client(region), "list_endpoints"),
        ("list models", clients.model_client(region), "list_models"),
    ):
        try:
            items = list(getattr(client, method)(request=request, retry=clients.retry()))
        except (exc.GoogleAPICallError, auth.GoogleAuthError) as err:  # a 401 whose refresh failed too
            raise TeardownError(classify(err, what, parent)[1].replace("LABEL", run_label)) from None
        found.append([r for r in items if naming.is_run_resource(r.labels, run_label)])
    return found[0], found[1]


def teardown_run(
    project: str,
    region: str,
    run_label: str,
    log: Callable[[str], None] = print,
    wait_seconds: float = 0.0,
) -> TeardownReport:
    """Removes every endpoint and model of one run: endpoints first (models in use cannot go).

    A resource that is busy (an operation on it still running, or a transient error) is tried
    again with backoff for up to ``wait_seconds``; one that failed for good is not tried again.
    What is still there at the end is in the report, with the reason and the fix.
    """
    deadline, delay = clock.monotonic() + wait_seconds, 2.0
    report = TeardownReport()
    permanent: dict[str, str] = {}
    while True:
        attempt = _teardown_once(project, region, run_label, log, set(permanent))
        report.removed += attempt.removed
        report.skipped.update(attempt.skipped)
        permanent.update({n: why for n, why in attempt.failed.items() if n not in attempt.busy})
        busy = {n: why for n, why in attempt.failed.items() if n in attempt.busy}
        report.failed, report.busy = {**permanent, **busy}, set(busy)
        if not busy or clock.monotonic() + delay > deadline:
            return report
        left = deadline - clock.monotonic()
        log(f"{len(busy)} resource(s) busy ({', '.join(busy)}); trying again in {delay:.0f}s, for {left:.0f}s more")
        clock.sleep(delay)
        delay = min(delay * 2, 60.0)


def teardown_run_or_raise(project: str, region: str | list[str], run_label: str) -> str:
    """``teardown_run`` for pipeline steps: waits up to 15 min for busy resources, raises if any is left.

    ``region`` may be a list: every region the run could touch (``placements.regions``).
    """
    if isinstance(region, list):
        report = teardown_regions(project, region, run_label, wait_seconds=900)
    else:
        report = teardown_run(project, region, run_label, wait_seconds=900)
    print(report.summary())
    if not report.clean:
        raise ResourcesLeft(f"cleanup of run {run_label} left resources behind:\n" + report.summary())
    return report.summary()


def teardown_regions(
    project: str,
    regions: list[str],
    run_label: str,
    log: Callable[[str], None] = print,
    wait_seconds: float = 0.0,
) -> TeardownReport:
    """``teardown_run`` in each region a run could touch (its location and its placements' regions).

    Every region is looked in even when one fails; a region whose listing is refused is in
    ``failed`` under its ``projects/P/locations/L`` name.
    """
    report = TeardownReport()
    for region in regions:
        if len(regions) > 1:
            log(f"region {region}:")
        try:
            one = teardown_run(project, region, run_label, log, wait_seconds)
        except TeardownError as err:
            report.failed[f"projects/{project}/locations/{region}"] = str(err)
            continue
        report.removed += one.removed
        report.failed.update(one.failed)
        report.skipped.update(one.skipped)
        report.busy |= one.busy
    return report


def _teardown_once(project: str, region: str, run_label: str, log, exclude: set[str]):
    report = TeardownReport()
    endpoints, models = find_run_resources(project, region, run_label)
    endpoints = [e for e in endpoints if e.name not in exclude]
    models = [m for m in models if m.name not in exclude]
    log(f"run {run_label}: {len(endpoints)} endpoint(s), {len(models)} model(s) to remove")
    for endpoint in endpoints:
        _remove_endpoint(endpoint.name, region, report, log, run_label)
    ours = {e.name for e in endpoints}
    stuck = set(exclude) | {n for n in report.failed if n not in report.busy}
    model_client = clients.model_client(region)
    for model in models:
        _remove_model(model_client, model.name, run_label, report, log, ours, stuck)
    for name in report.failed:
        report.failed[name] = report.failed[name].replace("LABEL", run_label)
    return report


@dataclass
class EndpointTeardown:
    """What ``vllm-vertex teardown --endpoint`` will remove, and what it keeps (with why).

    Attributes:
        endpoint: ``projects/P/locations/L/endpoints/E``.
        deployed: Lines naming each deployed model.
        models: Model resource names to delete after the endpoint (made by vllm-vertex).
        kept: Lines naming each model kept, and why.
        labels: The endpoint's labels.
    """

    endpoint: str
    deployed: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def managed(self) -> bool:
        """True when the endpoint carries ``managed-by=vllm-vertex`` (vllm-vertex created it)."""
        return all(self.labels.get(k) == v for k, v in naming.MANAGED_BY.items())

    @property
    def to_delete(self) -> list[str]:
        """Every line the user is asked about, in deletion order."""
        return [*self.deployed, self.endpoint, *self.models]


def plan_endpoint_teardown(endpoint_name: str, delete_models: bool = True) -> EndpointTeardown:
    """Reads the endpoint and its models: ours (label ``managed-by=vllm-vertex``) go, others stay.

    Raises:
        EndpointNotFound: no such endpoint.
    """
    from vllm_vertex.cloud.smoke import read_endpoint

    found = read_endpoint(endpoint_name, require_deployed=False)
    out = EndpointTeardown(found.name, [f"deployed model {d.id} ({d.model})" for d in found.deployed_models])
    out.labels = dict(found.labels)
    model_client = clients.model_client(endpoint_name.split("/")[3])
    for model_name in dict.fromkeys(d.model.split("@", 1)[0] for d in found.deployed_models):
        model = model_client.get_model(name=model_name, retry=clients.retry())
        ours = all(model.labels.get(k) == v for k, v in naming.MANAGED_BY.items())
        if not delete_models:
            out.kept.append(f"{model_name} (--keep-models; its container env may hold an HF token)")
        elif ours:
            out.models.append(model_name)
        else:
            out.kept.append(f"{model_name} (not uploaded by vllm-vertex)")
    return out


def teardown_endpoint(
    target: EndpointTeardown | str, log: Callable[[str], None] = print
) -> TeardownReport:
    """Undeploys everything from one endpoint, deletes it, then deletes the models ``target`` names.

    ``target`` is an ``EndpointTeardown`` (``plan_endpoint_teardown``), or an endpoint name: then
    models are left.
    """
    plan = target if isinstance(target, EndpointTeardown) else EndpointTeardown(target)
    report = TeardownReport()
    region = plan.endpoint.split("/")[3]
    _remove_endpoint(plan.endpoint, region, report, log, run_label=None)
    if plan.models and plan.endpoint not in report.failed:
        model_client = clients.model_client(region)
        for name in plan.models:
            call = lambda n=name: model_client.delete_model(name=n, retry=clients.retry())  # noqa: E731
            _delete(call, name, "delete model", report, log)
    for name in report.failed:
        report.failed[name] = report.failed[name].replace("--run-label LABEL", f"--endpoint {plan.endpoint}")
    return report


def _fresh(read, name: str, run_label: str | None, report: TeardownReport, what: str):
    """Re-reads the resource; None when it is gone, not this run's any more, or unreadable (reported)."""
    from google.api_core import exceptions as exc

    try:
        resource = read(name=name, retry=clients.retry())
    except exc.NotFound:
        return None
    except Exception as err:
        busy, text = classify(err, what, name)
        _fail(report, name, busy, text)
        return None
    if run_label is not None and not naming.is_run_resource(resource.labels, run_label):
        report.skipped[name] = f"its labels no longer name run {run_label} ({dict(resource.labels)}); left alone"
        return None
    return resource


def _fail(report: TeardownReport, name: str, busy: bool, text: str) -> None:
    report.failed[name] = text
    if busy:
        report.busy.add(name)


def _remove_endpoint(name: str, region: str, report: TeardownReport, log, run_label) -> None:
    from google.api_core import exceptions as exc

    client = clients.endpoint_client(region)
    endpoint = _fresh(client.get_endpoint, name, run_label, report, "read")
    if endpoint is None:
        return
    _cancel_running(client, name, region, log)
    for deployed in endpoint.deployed_models:
        key = f"{name}/deployedModels/{deployed.id}"
        try:
            op = client.undeploy_model(endpoint=name, deployed_model_id=deployed.id, retry=clients.retry())
            operations.tolerant(op, region).result(timeout=1800)
            report.removed.append(key)
            log(f"undeployed {deployed.id} from {name}")
        except exc.NotFound:
            pass
        except Exception as err:  # keep going: delete what can be deleted, report the rest
            busy, text = classify(err, "undeploy", key)
            _fail(report, key, busy, text)
            log(f"could not undeploy {key}: {text}")
    if any(k.startswith(name + "/") and k not in report.busy for k in report.failed):
        _fail(report, name, False, f"not deleted: a model on it could not be undeployed (see {name}/deployedModels)")
        return
    if _fresh(client.get_endpoint, name, run_label, report, "read") is None:  # re-read just before deleting
        return
    _delete(lambda: client.delete_endpoint(name=name, retry=clients.retry()), name, "delete", report, log)


def _remove_model(
    client, name: str, run_label: str, report: TeardownReport, log, ours: set, stuck: set
) -> None:
    if _fresh(client.get_model, name, run_label, report, "read model") is None:
        return
    delete = lambda: client.delete_model(name=name, retry=clients.retry())  # noqa: E731
    said: list[str] = []  # logged once the reason is known: "busy" is wrong when the endpoint could not go
    _delete(delete, name, "delete model", report, said.append)
    _reason_model_kept(name, report, ours, stuck)
    for line in said:
        log(f"could not delete {name}: {report.failed[name]}" if name in report.failed else line)


def _reason_model_kept(name: str, report: TeardownReport, ours: set, stuck: set) -> None:
    if name in report.busy:  # "deployed or being deployed at the following Endpoint(s): ..."
        users = set(_DEPLOYED_AT.findall(report.failed[name]))
        foreign, blocked = users - ours, users & stuck
        if foreign:
            report.busy.discard(name)
            report.failed[name] = (
                f"delete model {name}: it is deployed on endpoint(s) this run did not create: "
                f"{', '.join(sorted(foreign))}. Fix: undeploy it there, then run "
                "`vllm-vertex teardown --run-label LABEL`."
            )
        elif blocked:
            report.busy.discard(name)
            report.failed[name] = (
                f"delete model {name}: still deployed on {', '.join(sorted(blocked))}, which could not be removed"
            )


def _cancel_running(client, endpoint_name: str, region: str, log) -> None:
    """Cancels deploys still running on the endpoint (their step crashed or the run was cancelled)."""
    try:
        ops = operations.list_operations(endpoint_name, region)  # tolerant of newer enum values
        running = [op.name for op in ops if not op.done]
    except Exception as err:  # listing is an aid; deletion still reports what is left
        log(f"could not list operations of {endpoint_name}: {err}")
        return
    for op_name in running:
        try:
            client.cancel_operation(request={"name": op_name})
            log(f"cancelled running {op_name}")
        except Exception as err:
            log(f"could not cancel {op_name}: {err}")


def _delete(call, name: str, action: str, report: TeardownReport, log) -> None:
    from google.api_core import exceptions as exc

    try:
        operations.tolerant(call(), name.split("/")[3]).result(timeout=900)
    except exc.NotFound:
        return
    except Exception as err:
        busy, text = classify(err, action, name)
        _fail(report, name, busy, text)
        log(f"could not delete {name}: {text}")
        return
    report.removed.append(name)
    log(f"deleted {name}")
