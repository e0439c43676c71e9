"""Reservations, spot, flex-start and required replicas: the deploy request, validation, quota and price per kind."""

from __future__ import annotations

import json

import pytest
from google.api_core import exceptions

from tests.standin import discovery
from vllm_vertex import capacity, pricing, quota
from vllm_vertex.cloud import clients, vertex
from vllm_vertex.cloud.quotas import check_quotas
from vllm_vertex.config import ConfigError, DeploymentConfig, from_preset, validate
from vllm_vertex.errors import DeployError, QuotaError

PROJECT = "my-proj"
RUN = "run-under-test"
RESERVATION = f"projects/{PROJECT}/zones/us-central1-a/reservations/l4-pool"
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.standin(quotas={
        "CustomModelServingL4GPUsPerProjectPerRegion": 8,
        "CustomModelServingPreemptibleL4GPUsPerProjectPerRegion": 8,
        "CustomModelServingCPUsPerProjectPerRegion": 200,
    }),
]


def _cfg(**kw) -> DeploymentConfig:
    return from_preset("llama-3.1-8b-instruct", project=PROJECT, deploy_timeout_seconds=30, **kw)


def _deploy(standin, cfg: DeploymentConfig) -> tuple[str, dict]:
    """Deploys through ``vertex``; returns the API version in the deploy request's path and its dedicatedResources."""
    model = vertex.upload_model(cfg, RUN, None)
    endpoint = vertex.create_endpoint(cfg, RUN)
    vertex.deploy_model(cfg, model, endpoint.name, RUN, log=lambda _: None)
    [(_, path, body)] = [r for r in standin.requests if r[1].split("?")[0].endswith(":deployModel")]
    return path.split("/")[1], json.loads(body)["deployedModel"]["dedicatedResources"]


KINDS = [
    ({}, "v1", {}, {}),
    ({"spot": True}, "v1", {"spot": True}, {}),
    ({"reservation_affinity": "any"}, "v1", {}, {"reservationAffinity": {"reservationAffinityType": 2}}),
    ({"reservation_affinity": "none"}, "v1", {}, {"reservationAffinity": {"reservationAffinityType": 1}}),
    (
        {"reservation_affinity": "specific", "reservation_name": RESERVATION},
        "v1",
        {},
        {"reservationAffinity": {"reservationAffinityType": 3, "key": "compute.googleapis.com/reservation-name",
                                 "values": [RESERVATION]}},
    ),
    ({"min_replica_count": 2, "max_replica_count": 2, "required_replica_count": 1}, "v1",
     {"requiredReplicaCount": 1, "minReplicaCount": 2}, {}),
    ({"flex_start_hours": 4}, "v1beta1", {"flexStart": {"maxRuntimeDuration": "14400s"}}, {}),
]


@pytest.mark.parametrize(("fields", "version", "resources", "machine"), KINDS)
def test_the_standin_receives_each_kind(standin, fields, version, resources, machine):
    sent_version, sent = _deploy(standin, _cfg(**fields))
    assert sent_version == version
    assert sent["machineSpec"] == {"machineType": "g2-standard-12", "acceleratorType": 11, "acceleratorCount": 1,
                                   **machine}
    extra = {k: v for k, v in sent.items() if k not in ("machineSpec", "minReplicaCount", "maxReplicaCount")}
    assert extra == {k: v for k, v in resources.items() if k != "minReplicaCount"}
    assert sent["minReplicaCount"] == resources.get("minReplicaCount", 1)
    [deployed] = standin.resources()["deployedModels"].values()
    assert deployed["state"] == "deployed"


@pytest.mark.parametrize("version", ["v1", "v1beta1"])
def test_the_request_fields_are_the_discovery_documents(version):
    """Every field ``capacity.dedicated_resources`` fills, as the GAPIC class sends it, is in that version's document."""
    from google.cloud import aiplatform_v1, aiplatform_v1beta1

    module = {"v1": aiplatform_v1, "v1beta1": aiplatform_v1beta1}[version]
    fields = dict(reservation_affinity="specific", reservation_name=RESERVATION, min_replica_count=2,
                  max_replica_count=3, required_replica_count=1)
    if version == "v1beta1":
        fields = dict(flex_start_hours=168, required_replica_count=1, reservation_affinity="none")
    cfg = _cfg(**fields)
    assert capacity.api_version(cfg) == version
    message = module.DedicatedResources(capacity.dedicated_resources(cfg))
    body = json.loads(module.DedicatedResources.to_json(message))
    schema = f"GoogleCloudAiplatform{version[0].upper()}{version[1:]}DedicatedResources"
    checked = discovery.validate(f"aiplatform.{version}", schema, body)
    assert checked["requiredReplicaCount"] == 1
    if version == "v1beta1":
        assert checked["flexStart"] == {"maxRuntimeDuration": "604800s"}
    else:
        assert checked["machineSpec"]["reservationAffinity"]["values"] == [RESERVATION]


def test_flex_start_is_v1beta1_only_and_reads_through_v1_leave_it_out(standin):
    cfg = _cfg(flex_start_hours=2)
    _deploy(standin, cfg)
    [name] = standin.resources()["endpoints"]
    v1 = clients.endpoint_client(cfg.region).get_endpoint(name=name).deployed_models[0].dedicated_resources
    beta = clients.endpoint_client(cfg.region, "v1beta1").get_endpoint(name=name).deployed_models[0]
    assert v1.machine_spec.machine_type == "g2-standard-12"
    listed = clients.endpoint_client(cfg.region).list_endpoints(request={"parent": name.split("/endpoints/")[0]})
    assert [ep.name for ep in listed] == [name]  # teardown lists through v1: no field v1 does not have
    assert beta.dedicated_resources.flex_start.max_runtime_duration.total_seconds() == 7200
    # v1 has no flexStart: the stand-in refuses it there as Google's discovery document does
    from google.cloud import aiplatform_v1

    assert "flex_start" not in aiplatform_v1.DedicatedResources.meta.fields
    with pytest.raises(exceptions.BadRequest, match='Unknown name "flexStart"'):
        _post("v1", name, "m", {"flexStart": {"maxRuntimeDuration": "60s"}})


def _post(version: str, endpoint: str, model: str, resources: dict) -> None:
    """A raw deployModel request (what a client of ``version`` could send); raises the API's error."""
    from vllm_vertex.cloud.context import current

    response = current().session().post(
        f"{current().base('us-central1')}/{version}/{endpoint}:deployModel",
        json={"deployedModel": {"model": model, "dedicatedResources": resources}},
    )
    if response.status_code >= 400:
        raise exceptions.from_http_response(response)


@pytest.mark.parametrize(
    ("resources", "text"),
    [
        ({"machineSpec": {"machineType": "g2-standard-12", "reservationAffinity": {
            "reservationAffinityType": "SPECIFIC_RESERVATION"}}}, "needs reservation_affinity.key"),
        ({"machineSpec": {"machineType": "g2-standard-12", "reservationAffinity": {
            "reservationAffinityType": "ANY_RESERVATION", "values": [RESERVATION]}}}, "only for SPECIFIC_RESERVATION"),
        ({"machineSpec": {"machineType": "g2-standard-12"}, "minReplicaCount": 1, "requiredReplicaCount": 2},
         "required_replica_count"),
        ({"machineSpec": {"machineType": "g2-standard-12"}, "flexStart": {"maxRuntimeDuration": "604801s"}},
         "at most 7 days"),
    ],
)
def test_the_standin_refuses_impossible_capacity_requests(standin, resources, text):
    model = vertex.upload_model(_cfg(), RUN, None)
    endpoint = vertex.create_endpoint(_cfg(), RUN)
    with pytest.raises(exceptions.BadRequest, match=text):
        _post("v1beta1", endpoint.name, model, {"minReplicaCount": 1, **resources})
    assert standin.resources()["deployedModels"] == {}


def test_a_reservation_that_does_not_exist_fails_the_deploy_naming_it(standin):
    standin.add_reservation(f"projects/{PROJECT}/zones/us-central1-a/reservations/other")
    with pytest.raises(DeployError) as info:
        _deploy(standin, _cfg(reservation_affinity="specific", reservation_name=RESERVATION))
    assert info.value.cause == "reservation_not_found"
    assert f"The resource '{RESERVATION}' was not found" in str(info.value)
    assert "gcloud compute reservations describe" in str(info.value)
    assert standin.resources()["deployedModels"] == {}


def test_an_existing_reservation_is_deployed_on(standin):
    standin.add_reservation(RESERVATION)
    _deploy(standin, _cfg(reservation_affinity="specific", reservation_name=RESERVATION))
    [deployed] = standin.resources()["deployedModels"].values()
    assert deployed["state"] == "deployed"


# validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "key", "fix"),
    [
        ({"spot": True, "reservation_affinity": "specific", "reservation_name": RESERVATION}, "spot",
         "Set spot: false"),
        ({"flex_start_hours": 4, "spot": True}, "flex_start_hours", "one"),
        ({"flex_start_hours": 4, "reservation_affinity": "specific", "reservation_name": RESERVATION},
         "flex_start_hours", "Set flex_start_hours: 0"),
        ({"flex_start_hours": 4, "machine_type": "n1-standard-8", "accelerator_type": "NVIDIA_TESLA_T4"},
         "flex_start_hours", "accelerator-optimized"),
        ({"reservation_affinity": "specific", "reservation_name": "projects/p/zones/us-east4-b/reservations/r"},
         "reservation_name", "deploy in us-east4"),
        ({"flex_start_hours": 169}, "flex_start_hours", "168"),
    ],
)
def test_impossible_combinations_are_refused_with_a_fix(fields, key, fix):
    with pytest.raises(ConfigError) as info:
        validate(_cfg(**fields))
    assert [k for k, _ in info.value.problems].count(key) >= 1
    assert fix in str(info.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"spot": True, "reservation_affinity": "any"},
        {"flex_start_hours": 168, "required_replica_count": 1},
        {"reservation_affinity": "specific", "reservation_name": RESERVATION, "min_replica_count": 2,
         "max_replica_count": 2, "required_replica_count": 1},
    ],
)
def test_possible_combinations_pass(fields):
    validate(_cfg(**fields))


# quota ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "gpu_quota", "unverified"),
    [
        ({}, "CustomModelServingL4GPUsPerProjectPerRegion", (False, False)),
        ({"spot": True}, "CustomModelServingPreemptibleL4GPUsPerProjectPerRegion", (False, False)),
        ({"flex_start_hours": 3}, "CustomModelServingPreemptibleL4GPUsPerProjectPerRegion", (False, True)),
        ({"reservation_affinity": "specific", "reservation_name": RESERVATION},
         "CustomModelServingL4GPUsPerProjectPerRegion", (True, True)),
        ({"reservation_affinity": "any"}, "CustomModelServingL4GPUsPerProjectPerRegion", (False, False)),
    ],
)
def test_each_kind_needs_its_quota(fields, gpu_quota, unverified):
    gpu, cpu = quota.needs(_cfg(**fields))
    assert gpu.quota_id == gpu_quota and cpu.quota_id == "CustomModelServingCPUsPerProjectPerRegion"
    assert (bool(gpu.unverified), bool(cpu.unverified)) == unverified


def test_flex_start_is_stopped_by_a_short_preemptible_quota(standin):
    standin.set_quota("CustomModelServingPreemptibleL4GPUsPerProjectPerRegion", 0, region="us-central1")
    with pytest.raises(QuotaError, match="CustomModelServingPreemptibleL4GPUsPerProjectPerRegion.*limit 0"):
        check_quotas(_cfg(flex_start_hours=3), log=lambda _: None)


def test_an_unverified_quota_that_looks_short_warns_and_does_not_block(standin):
    standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0, region="us-central1")
    lines = check_quotas(_cfg(reservation_affinity="specific", reservation_name=RESERVATION), log=lambda _: None)
    [gpu] = [line for line in lines if line.startswith("CustomModelServingL4GPUs")]
    assert "limit 0" in gpu and "unverified" in gpu and "not blocking" in gpu
    with pytest.raises(QuotaError):  # the same limit blocks an on-demand deploy, whose quota is known
        check_quotas(_cfg(), log=lambda _: None)


# price ---------------------------------------------------------------------------------------------------


def test_flex_start_and_reservation_prices_are_unknown_saying_why_and_on_demand_stays():
    on_demand = capacity.rate(_cfg())
    assert on_demand.usd_per_hour == pricing.PRICES["g2-standard-12"].usd_per_hour
    flex = capacity.rate(_cfg(flex_start_hours=4))
    assert flex.usd_per_hour is None and pricing.estimated_cost(flex, 3600) is None
    assert "unknown for flex-start" in flex.text() and "use-flex-start-vms" in flex.text()
    assert on_demand.text() in flex.text()  # the on-demand figure, with its kind and source, beside it
    held = capacity.rate(_cfg(reservation_affinity="specific", reservation_name=RESERVATION))
    assert held.usd_per_hour is None and "use-reservations" in held.text()
    spot = capacity.rate(_cfg(spot=True))
    assert spot.usd_per_hour is None and spot.text().startswith("unknown for spot VMs")
    assert capacity.rate(_cfg(reservation_affinity="any")).usd_per_hour == on_demand.usd_per_hour


def test_dry_run_summary_names_the_capacity_kind():
    from vllm_vertex.commands._dry import plan_summary

    summary = plan_summary(_cfg(flex_start_hours=4, required_replica_count=1))
    assert summary["capacity"] == "flex-start (DWS), undeployed after 4 h; succeeds at 1 of 1 replica(s)"
    assert summary["usd_per_hour"] is None and "flex-start" in summary["price"]


def test_the_smoke_report_does_not_price_a_reservation_as_on_demand():
    import datetime

    from google.cloud import aiplatform_v1

    from vllm_vertex.cloud.smoke import cost_so_far

    start = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)

    def endpoint(cfg: DeploymentConfig):
        resources = aiplatform_v1.DedicatedResources(capacity.dedicated_resources(cfg))
        deployed = aiplatform_v1.DeployedModel(dedicated_resources=resources, create_time=start)
        return aiplatform_v1.Endpoint(deployed_models=[deployed])

    figures, line = cost_so_far(endpoint(_cfg()), now=start + datetime.timedelta(hours=1))
    assert figures["estimated_gpu_cost_usd"] == pricing.PRICES["g2-standard-12"].usd_per_hour
    figures, line = cost_so_far(endpoint(_cfg(reservation_affinity="specific", reservation_name=RESERVATION)),
                                now=start + datetime.timedelta(hours=1))
    assert "estimated_gpu_cost_usd" not in figures and "unknown for reservation" in line
