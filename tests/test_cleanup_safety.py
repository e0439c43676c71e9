"""Cleanup touches only its own run's resources, and fails fast on errors that waiting cannot fix.

Run identity: a property test (hypothesis) that distinct job resource names never share a label,
and the collisions of the old rule (job-ID-only label) checked one by one. Cleanup against the
stand-in: both labels required, a fresh read of the labels just before each delete, and Vertex's
errors sorted into "busy" (waited on) and "permanent" (reported at once with the permission).
"""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import components as c
from tests.cli_support import PROJECT, REGION, deploy
from tests.standin import VertexStandin
from vllm_vertex import naming
from vllm_vertex.cloud import teardown as td

pytestmark = pytest.mark.timeout(120)


def old_rule(run_name: str) -> str:
    """The run label before this change: the sanitised job ID, or its tail plus a hash past 63 chars."""
    clean = re.sub(r"[^a-z0-9_-]+", "-", run_name.lower()).strip("-") or "run"
    if len(clean) <= 63:
        return clean
    return f"{clean[-54:]}-{hashlib.sha256(run_name.encode()).hexdigest()[:8]}".lstrip("-")


def job(job_id: str, project: str = "p", region: str = "us-central1") -> str:
    return f"projects/{project}/locations/{region}/pipelineJobs/{job_id}"


# run identity ------------------------------------------------------------------------------------------

_names = st.one_of(
    st.text(min_size=1, max_size=200).filter(lambda s: s.strip() and "{{" not in s),
    st.builds(job, st.from_regex(r"[a-z][-a-z0-9]{0,127}", fullmatch=True),
              st.from_regex(r"[a-z][-a-z0-9]{3,20}", fullmatch=True), st.sampled_from(["us-central1", "europe-west4"])),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_names, min_size=2, max_size=8, unique_by=str.strip))
def test_distinct_resource_names_never_share_a_label(names):
    labels = [naming.run_label_value(n) for n in names]
    assert len(set(labels)) == len(names)
    for label in labels:
        assert re.fullmatch(r"[a-z0-9_-]{1,63}", label), label


@settings(max_examples=100, deadline=None)
@given(_names)
def test_a_label_is_stable_and_valid(name):
    assert naming.run_label_value(name) == naming.run_label_value(name)


def test_the_collisions_of_the_old_rule_get_different_labels():
    long_id = "vllm-deploy-and-verify-" + "a" * 39 + "-20261127143000"  # 77 characters
    short_id = old_rule(long_id)  # a valid 63-character job ID equal to the long one's old label
    assert len(long_id) == 77 and len(short_id) == 63 and re.fullmatch(r"[a-z][-a-z0-9]*", short_id)
    same_id = "vllm-deploy-and-verify-20261127143000"
    pairs = [
        (job(long_id), job(short_id)),
        (job(same_id, "team-a"), job(same_id, "team-b")),
        (job(same_id, region="us-central1"), job(same_id, region="europe-west4")),
        ("Run-1", "run 1"),
    ]
    for a, b in pairs:
        assert old_rule(a.rsplit("/", 1)[-1]) == old_rule(b.rsplit("/", 1)[-1]), (a, b)  # they did collide
        assert naming.run_label_value(a) != naming.run_label_value(b), (a, b)


# cleanup only touches this run's resources -------------------------------------------------------------

A, B = naming.run_label_value(job("run-a")), naming.run_label_value(job("run-b"))


def _relabel(standin: VertexStandin, name: str, **labels: str | None) -> None:
    with standin.state.lock:
        resource = standin.state.endpoints.get(name) or standin.state.models[name]
        for key, value in labels.items():
            if value is None:
                resource["labels"].pop(key, None)
            else:
                resource["labels"][key] = value


def _names_of(standin: VertexStandin) -> set[str]:
    res = standin.resources()
    return set(res["endpoints"]) | set(res["models"])


def test_cleanup_removes_only_its_own_run(standin):
    mine, theirs = deploy(standin, A), deploy(standin, B)
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None)
    assert report.clean and mine.name in report.removed
    left = standin.resources()
    assert set(left["endpoints"]) == {theirs.name} and len(left["models"]) == 1
    assert {r["labels"]["vllm-vertex-run"] for r in left["models"].values()} == {B}


def test_a_resource_without_managed_by_is_never_touched(standin):
    copied = deploy(standin, A)  # e.g. someone copied our labels onto their own endpoint and model
    for name in _names_of(standin):
        _relabel(standin, name, **{"managed-by": None})
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None)
    assert report.removed == [] and copied.name in _names_of(standin)


def test_labels_are_read_again_just_before_deleting(standin, monkeypatch):
    """The listing said "ours"; by the time of the delete the labels name another run: left alone."""
    endpoint = deploy(standin, A)
    listed = td.find_run_resources(PROJECT, REGION, A)
    for name in _names_of(standin):
        _relabel(standin, name, **{"vllm-vertex-run": B})
    monkeypatch.setattr(td, "find_run_resources", lambda *a, **k: listed)
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None)
    assert report.removed == [] and report.clean
    assert set(report.skipped) == _names_of(standin) and endpoint.name in report.skipped
    assert "no longer name run" in report.skipped[endpoint.name]
    assert len(standin.resources()["deployedModels"]) == 1  # not even undeployed


def test_labels_are_read_again_after_the_undeploy(standin, monkeypatch):
    """Relabelled while its models were being undeployed: the endpoint itself is not deleted."""
    endpoint = deploy(standin, A)
    real_undeploy = td.clients.endpoint_client(REGION).__class__.undeploy_model

    def undeploy_then_relabel(self, *args, **kwargs):
        op = real_undeploy(self, *args, **kwargs)
        _relabel(standin, endpoint.name, **{"vllm-vertex-run": B})
        return op

    monkeypatch.setattr(type(td.clients.endpoint_client(REGION)), "undeploy_model", undeploy_then_relabel)
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None)
    assert endpoint.name in report.skipped and endpoint.name in standin.resources()["endpoints"]


def test_a_server_that_ignores_the_filter_still_cannot_make_cleanup_touch_others(standin, monkeypatch):
    deploy(standin, A)
    theirs = deploy(standin, B)
    monkeypatch.setattr(naming, "label_filter", lambda _label: "")  # the list returns every resource
    assert td.teardown_run(PROJECT, REGION, A, log=lambda _: None).clean
    assert set(standin.resources()["endpoints"]) == {theirs.name}


def test_the_exit_handler_of_a_colliding_run_leaves_the_other_alone(standin):
    """The old rule's collision (77-char job ID vs a 63-char one), through the exit-handler component."""
    long_id = "vllm-deploy-and-verify-" + "a" * 39 + "-20261127143000"
    first, second = job(long_id, PROJECT), job(old_rule(long_id), PROJECT)
    kept = deploy(standin, naming.run_label_value(first))
    deploy(standin, naming.run_label_value(second))

    class Failed:
        state, error_message = "FAILED", "Task failed."

    out = c.cleanup_on_exit.python_func(project=PROJECT, location=REGION, placements=[], job_resource_name=second,
                                        teardown_policy="on_failure", status=Failed())
    assert "removed" in out and set(standin.resources()["endpoints"]) == {kept.name}


# permanent errors fail at once; only "busy" is waited on ---------------------------------------------

def test_a_permanent_403_on_delete_fails_at_once_naming_the_permission(standin, virtual_clock):
    endpoint = deploy(standin, A)
    standin.faults.add("delete_endpoint", status=403, times=None,
                       message=f"Permission 'aiplatform.endpoints.delete' denied on resource '{endpoint.name}'.")
    start = virtual_clock.monotonic()  # the product's time: its waits are virtual
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None, wait_seconds=900)
    assert virtual_clock.monotonic() - start < 30  # not 900 s of "busy"
    assert not report.clean and report.busy == set()
    why = report.failed[endpoint.name]
    assert "403" in why and "aiplatform.endpoints.delete" in why and f"project {endpoint.name.split('/')[1]}" in why
    assert f"--run-label {A}" in why and "roles/aiplatform.user" in why
    deletes = [p for m, p, _ in standin.requests if m == "DELETE" and endpoint.name.split("/")[-1] in p]
    assert len(deletes) == 1  # tried once
    left = standin.resources()  # the deployment was undeployed and the model deleted: only the empty endpoint
    assert set(left["endpoints"]) == {endpoint.name} and left["models"] == {} and left["deployedModels"] == {}


def test_a_permanent_403_on_undeploy_leaves_endpoint_and_model_and_fails_at_once(standin, virtual_clock):
    endpoint = deploy(standin, A)
    standin.faults.add("undeploy", status=403, times=None, message="Permission 'aiplatform.endpoints.undeploy' denied")
    start = virtual_clock.monotonic()  # the product's time: its waits are virtual
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None, wait_seconds=900)
    assert virtual_clock.monotonic() - start < 30 and report.busy == set()
    [model] = standin.resources()["models"]
    [deployed] = [k for k in report.failed if "/deployedModels/" in k]
    assert "aiplatform.endpoints.undeploy" in report.failed[deployed]
    assert "could not be undeployed" in report.failed[endpoint.name]
    assert "could not be removed" in report.failed[model]  # blocked by that endpoint: also at once


def test_the_teardown_step_raises_at_once_with_what_is_left(standin, virtual_clock):
    deploy(standin, A)
    standin.faults.add("delete_model", status=403, times=None, message="Permission 'aiplatform.models.delete' denied")
    start = virtual_clock.monotonic()  # the product's time: its waits are virtual
    with pytest.raises(td.ResourcesLeft, match="aiplatform.models.delete") as info:
        c.teardown.python_func(project=PROJECT, location=REGION, placements=[], run_label=A)
    assert virtual_clock.monotonic() - start < 30
    assert "LEFT projects/" in str(info.value) and "removed projects/" in str(info.value)


@pytest.mark.parametrize(
    ("status", "grpc", "message", "busy", "says"),
    [
        (400, "FAILED_PRECONDITION", "Endpoint has running operations. Please retry after they finish.", True, ""),
        (400, "FAILED_PRECONDITION", "DeployedModel 1 is being undeployed.", True, ""),
        (409, "ABORTED", "Concurrent modification of the endpoint.", True, ""),
        (503, None, "Service unavailable.", True, ""),
        (400, "INVALID_ARGUMENT", "Invalid endpoint name.", False, ""),
        (400, "FAILED_PRECONDITION", "Endpoint is protected by an organization policy.", False, ""),
        (401, None, "Request had invalid authentication credentials.", False, "credentials were not accepted"),
        (403, None, "Permission denied.", False, ""),
    ],
)
def test_only_in_progress_and_transient_errors_are_waited_on(standin, status, grpc, message, busy, says):
    endpoint = deploy(standin, A)
    standin.faults.add("delete_endpoint", status=status, times=2, message=message, grpc_status=grpc)
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None, wait_seconds=20 if busy else 900)
    if busy:  # waited out: the fault wore off after two tries
        assert report.clean and endpoint.name in report.removed
    else:
        assert not report.clean and endpoint.name in report.failed and report.busy == set()
        assert (says or message) in report.failed[endpoint.name] and "Fix" in report.failed[endpoint.name]


def test_a_model_deployed_on_someone_elses_endpoint_fails_at_once(standin, virtual_clock):
    deploy(standin, A)
    foreign = f"projects/{PROJECT}/locations/{REGION}/endpoints/999"
    standin.faults.add("delete_model", status=400, times=None, grpc_status="FAILED_PRECONDITION",
                       message=f"Model is deployed or being deployed at the following Endpoint(s): {foreign}.")
    start = virtual_clock.monotonic()  # the product's time: its waits are virtual
    report = td.teardown_run(PROJECT, REGION, A, log=lambda _: None, wait_seconds=900)
    assert virtual_clock.monotonic() - start < 30
    [(model, why)] = report.failed.items()
    assert "did not create" in why and foreign in why


def test_a_404_on_the_resource_is_success_a_404_on_the_project_is_an_error(standin):
    endpoint = deploy(standin, A)
    standin.faults.add("delete_endpoint", status=404, message=f"Endpoint {endpoint.name} not found.")
    assert td.teardown_run(PROJECT, REGION, A, log=lambda _: None).clean
    standin.faults.add("list_endpoints", status=404, message="Project 'nope' not found.")
    with pytest.raises(td.TeardownError, match=r"404 .*check project and region"):
        td.teardown_run("nope", REGION, A, log=lambda _: None)


def test_a_403_on_listing_names_the_list_permission(standin):
    standin.faults.add("list_models", status=403, message="Permission denied.")
    with pytest.raises(td.TeardownError, match=r"aiplatform\.models\.list") as info:
        td.teardown_run(PROJECT, REGION, A, log=lambda _: None)
    assert f"--run-label {A}" in str(info.value)


def test_cli_teardown_403s_say_the_permission_in_one_line(standin):
    from tests.cli_support import WHERE, invoke

    standin.faults.add("list_endpoints", status=403, message="Permission denied.")
    listing = invoke(standin, "teardown", "--run-label", A, *WHERE, "--yes")
    assert listing.exit_code == 1 and "aiplatform.endpoints.list" in listing.output
    assert "Traceback" not in listing.output
    deploy(standin, A)
    standin.faults.add("delete_model", status=403, times=None, message="Permission 'aiplatform.models.delete' denied")
    result = invoke(standin, "teardown", "--run-label", A, *WHERE, "--yes")
    assert result.exit_code == 1 and "LEFT projects/" in result.output and "lacks aiplatform.models.delete" in result.output
    assert "trying again" not in result.output
