"""Removes what a run created: undeploy, delete endpoints, delete models, found by run label.

Used by the teardown step, the exit handler's cleanup and ``vllm-vertex teardown``. Every
step is idempotent: a resource already gone counts as removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vllm_vertex import naming
from vllm_vertex.cloud import clients

__all__ = [
    "EndpointTeardown",
    "ResourcesLeft",
    "TeardownReport",
    "find_run_resources",
    "plan_endpoint_teardown",
    "teardown_endpoint",
    "teardown_run",
    "teardown_run_or_raise",
]


@dataclass
class TeardownReport:
    """What was removed and what could not be, with the reason."""

    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when nothing is left behind."""
        return not self.failed

    def summary(self) -> str:
        """One line per resource."""
        lines = [f"removed {name}" for name in self.removed]
        lines += [f"LEFT {name}: {why}" for name, why in self.failed.items()]
        return "\n".join(lines) or "nothing to remove"


def find_run_resources(project: str, region: str, run_label: str, api_endpoint: str = "") -> tuple[list, list]:
    """Endpoints and models that carry ``vllm-vertex-run=<run_label>``."""
    parent = f"projects/{project}/locations/{region}"
    flt = naming.label_filter(run_label)
    request = {"parent": parent, "filter": flt}
    endpoint_client = clients.endpoint_client(region, api_endpoint)
    endpoints = list(endpoint_client.list_endpoints(request=request, retry=clients.retry()))
    models = list(clients.model_client(region, api_endpoint).list_models(request=request, retry=clients.retry()))
    return endpoints, models


def teardown_run(
    project: str,
    region: str,
    run_label: str,
    api_endpoint: str = "",
    log: Callable[[str], None] = print,
    wait_seconds: float = 0.0,
) -> TeardownReport:
    """Removes every endpoint and model of one run: endpoints first (models in use cannot go).

    A resource Vertex refuses to delete because a deploy on it is still running is tried again
    with backoff for up to ``wait_seconds``; what is still there then is in the report.
    """
    deadline, delay = time.monotonic() + wait_seconds, 2.0
    report = TeardownReport()
    while True:
        attempt = _teardown_once(project, region, run_label, api_endpoint, log)
        report.removed += attempt.removed
        report.failed = attempt.failed
        if attempt.clean or time.monotonic() + delay > deadline:
            return report
        log(f"{len(attempt.failed)} resource(s) busy (a deploy still running?); trying again in {delay:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 60.0)


class ResourcesLeft(RuntimeError):
    """Teardown could not remove everything; the message lists what is left and why."""


def teardown_run_or_raise(project: str, region: str, run_label: str, api_endpoint: str = "") -> str:
    """``teardown_run`` for pipeline steps: waits up to 15 min for busy resources, raises if any is left."""
    report = teardown_run(project, region, run_label, api_endpoint, wait_seconds=900)
    print(report.summary())
    if not report.clean:
        raise ResourcesLeft("resources left behind:\n" + report.summary())
    return report.summary()


def _teardown_once(project: str, region: str, run_label: str, api_endpoint: str, log) -> TeardownReport:
    report = TeardownReport()
    endpoints, models = find_run_resources(project, region, run_label, api_endpoint)
    log(f"run {run_label}: {len(endpoints)} endpoint(s), {len(models)} model(s) to remove")
    for endpoint in endpoints:
        _remove_endpoint(endpoint.name, region, api_endpoint, report, log)
    model_client = clients.model_client(region, api_endpoint)
    for model in models:
        _delete(
            lambda c, n=model.name: c.delete_model(name=n, retry=clients.retry()), model_client, model.name, report, log
        )
    return report


@dataclass
class EndpointTeardown:
    """What ``vllm-vertex teardown --endpoint`` will remove, and what it keeps (with why).

    Attributes:
        endpoint: ``projects/P/locations/L/endpoints/E``.
        deployed: Lines naming each deployed model.
        models: Model resource names to delete after the endpoint (made by vllm-vertex).
        kept: Lines naming each model kept, and why.
    """

    endpoint: str
    deployed: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def to_delete(self) -> list[str]:
        """Every line the user is asked about, in deletion order."""
        return [*self.deployed, self.endpoint, *self.models]


def plan_endpoint_teardown(endpoint_name: str, api_endpoint: str = "", delete_models: bool = True) -> EndpointTeardown:
    """Reads the endpoint and its models: ours (label ``managed-by=vllm-vertex``) go, others stay.

    Raises:
        EndpointNotFound: no such endpoint.
    """
    from vllm_vertex.cloud.smoke import read_endpoint

    found = read_endpoint(endpoint_name, api_endpoint, require_deployed=False)
    out = EndpointTeardown(found.name, [f"deployed model {d.id} ({d.model})" for d in found.deployed_models])
    model_client = clients.model_client(endpoint_name.split("/")[3], api_endpoint)
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
    target: EndpointTeardown | str, api_endpoint: str = "", log: Callable[[str], None] = print
) -> TeardownReport:
    """Undeploys everything from one endpoint, deletes it, then deletes the models ``target`` names.

    ``target`` is an ``EndpointTeardown`` (``plan_endpoint_teardown``), or an endpoint name: then
    models are left.
    """
    plan = target if isinstance(target, EndpointTeardown) else EndpointTeardown(target)
    report = TeardownReport()
    region = plan.endpoint.split("/")[3]
    _remove_endpoint(plan.endpoint, region, api_endpoint, report, log)
    if plan.models and plan.endpoint not in report.failed:
        model_client = clients.model_client(region, api_endpoint)
        for name in plan.models:
            _delete(lambda c, n=name: c.delete_model(name=n, retry=clients.retry()), model_client, name, report, log)
    return report


def _remove_endpoint(name: str, region: str, api_endpoint: str, report: TeardownReport, log) -> None:
    from google.api_core import exceptions

    client = clients.endpoint_client(region, api_endpoint)
    try:
        endpoint = client.get_endpoint(name=name, retry=clients.retry())
    except exceptions.NotFound:
        return
    _cancel_running(client, name, log)
    for deployed in endpoint.deployed_models:
        try:
            op = client.undeploy_model(endpoint=name, deployed_model_id=deployed.id, retry=clients.retry())
            op.result(timeout=1800)
            report.removed.append(f"{name}/deployedModels/{deployed.id}")
            log(f"undeployed {deployed.id} from {name}")
        except exceptions.NotFound:
            pass
        except Exception as err:  # keep going: delete what can be deleted, report the rest
            report.failed[f"{name}/deployedModels/{deployed.id}"] = str(err)
    _delete(lambda c: c.delete_endpoint(name=name, retry=clients.retry()), client, name, report, log)


def _cancel_running(client, endpoint_name: str, log) -> None:
    """Cancels deploys still running on the endpoint (their step crashed or the run was cancelled)."""
    try:
        running = [op.name for op in client.list_operations(request={"name": endpoint_name}).operations if not op.done]
    except Exception as err:  # listing is an aid; deletion still reports what is left
        log(f"could not list operations of {endpoint_name}: {err}")
        return
    for op_name in running:
        try:
            client.cancel_operation(request={"name": op_name})
            log(f"cancelled running {op_name}")
        except Exception as err:
            log(f"could not cancel {op_name}: {err}")


def _delete(call, client, name: str, report: TeardownReport, log) -> None:
    from google.api_core import exceptions

    try:
        call(client).result(timeout=900)
    except exceptions.NotFound:
        return
    except Exception as err:
        report.failed[name] = str(err)
        log(f"could not delete {name}: {err}")
        return
    report.removed.append(name)
    log(f"deleted {name}")
