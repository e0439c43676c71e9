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
    "ResourcesLeft",
    "TeardownReport",
    "find_run_resources",
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


def teardown_endpoint(endpoint_name: str, api_endpoint: str = "", log: Callable[[str], None] = print) -> TeardownReport:
    """Undeploys everything from one endpoint and deletes it (models are left)."""
    report = TeardownReport()
    region = endpoint_name.split("/")[3]
    _remove_endpoint(endpoint_name, region, api_endpoint, report, log)
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
