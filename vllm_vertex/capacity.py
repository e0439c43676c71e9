"""Where a deployment's GPUs come from: on demand, spot, flex-start or a reservation. Pure.

The deploy request's capacity fields, read from the aiplatform discovery documents that
google-api-python-client ships (``aiplatform.v1.json``, ``aiplatform.v1beta1.json``) and the GAPIC
proto classes (``aiplatform_v1.MachineSpec``, ``aiplatform_v1beta1.DedicatedResources``):

- ``dedicatedResources.machineSpec.reservationAffinity`` (v1 and v1beta1): ``reservationAffinityType``
  (``NO_RESERVATION`` | ``ANY_RESERVATION`` | ``SPECIFIC_RESERVATION``), ``key``, ``values``. "To target a
  SPECIFIC_RESERVATION by name, use ``compute.googleapis.com/reservation-name`` as the key and specify the
  name of your reservation as its value"; the values "must be the resource name of the reservation".
- ``dedicatedResources.requiredReplicaCount`` (v1 and v1beta1): "the deploy/mutate operation will succeed
  once available_replica_count reaches required_replica_count, and the rest of the replicas will be
  retried. If not set, the default required_replica_count will be min_replica_count."
- ``dedicatedResources.flexStart.maxRuntimeDuration`` (v1beta1 only, a ``google-duration``): "The
  deployment will be terminated after the duration. The max_runtime_duration can be set up to 7 days."
  So a flex-start deploy goes through the v1beta1 client (``aiplatform_v1beta1.EndpointServiceClient``).

Combinations that validation refuses (``combination_problems``), and why:

- spot + a specific reservation: Compute Engine, "Consume reservations" (compute/docs/instances/reservations-consume),
  Limitations: "You can't consume a reservation to create ... Spot VMs or preemptible instances"; Vertex's spot page
  (vertex-ai/docs/predictions/use-spot-vms): "All Spot VMs limitations apply when using Spot VMs with Vertex AI".
- flex-start + spot, flex-start + a specific reservation: a VM has one provisioning model (Compute Engine's
  ``ProvisioningModel``: STANDARD, SPOT, FLEX_START, RESERVATION_BOUND); flex-start capacity comes from DWS's pool
  (compute/docs/instances/about-flex-start-vms, which sends reserved DWS capacity to calendar-mode reservations).
- flex-start on other than an accelerator-optimized GPU machine: "Flex-start VMs support all accelerator-optimized
  machine types (except A4X and G4)" (about-flex-start-vms); n1 + T4 is not one.
- flex-start over 7 days: "Any deployment request for a longer duration will be rejected" (Vertex, "Use Flex-start
  VMs with inference", vertex-ai/docs/predictions/use-flex-start-vms); the field's 0..168 h check.
- a specific reservation outside the deploy's region, or with no GPU: reservations are zonal; "Vertex AI can only
  consume reservations of VMs that have GPUs attached" (Vertex, "Use reservations with inference",
  vertex-ai/docs/predictions/use-reservations). The reservation's machine type must also "match exactly"; that
  needs the reservation itself (Compute Engine's API), so it is left to the deploy.

Not refused, for no page says they conflict: required replicas with any kind, flex-start with min/max replicas,
spot or flex-start with ``reservation_affinity: any`` or ``none``.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from vllm_vertex import config
from vllm_vertex.config import DeploymentConfig

if TYPE_CHECKING:
    from vllm_vertex.pricing import Rate

__all__ = [
    "AFFINITY_TYPES", "RESERVATION_KEY", "api_version", "combination_problems", "dedicated_resources", "describe",
    "kind", "rate",
]

RESERVATION_KEY = "compute.googleapis.com/reservation-name"
AFFINITY_TYPES = {"any": "ANY_RESERVATION", "specific": "SPECIFIC_RESERVATION", "none": "NO_RESERVATION"}


_FLEX_START_FAMILIES = ("a2-", "a3-", "a4-", "g2-")  # accelerator-optimized; A4X is not


def combination_problems(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    """Spot, flex-start and reservations that Vertex or Compute Engine documents as impossible together (above)."""
    out: list[tuple[str, str]] = []
    specific, flex = cfg.reservation_affinity == "specific", cfg.flex_start_hours > 0
    if cfg.spot and specific:
        out.append(("spot", "spot VMs cannot consume a reservation. Set spot: false to use reservation_name, or "
                            "drop reservation_affinity."))
    if flex and cfg.spot:
        out.append(("flex_start_hours", "flex-start and spot are two provisioning models; a deployment has one. Set "
                                        "spot: false, or flex_start_hours: 0."))
    if flex and specific:
        out.append(("flex_start_hours", "flex-start VMs come from Dynamic Workload Scheduler's pool, not from a "
                                        "reservation. Set flex_start_hours: 0 to use reservation_name."))
    if flex and (cfg.accelerator_count < 1 or not cfg.machine_type.startswith(_FLEX_START_FAMILIES)
                 or cfg.machine_type.startswith("a4x-")):
        out.append(("flex_start_hours", f"flex-start needs an accelerator-optimized GPU machine (g2, a2, a3), not "
                                        f"{cfg.machine_type} with {cfg.accelerator_count} GPU(s)."))
    if specific and config.RESERVATION_RE.match(cfg.reservation_name):
        zone = cfg.reservation_name.split("/")[3]
        if zone.rsplit("-", 1)[0] != cfg.region:
            out.append(("reservation_name", f"the reservation is in zone {zone}, outside region {cfg.region}: deploy "
                                            f"in {zone.rsplit('-', 1)[0]}, or name a reservation in {cfg.region}."))
        if cfg.accelerator_count < 1:
            out.append(("reservation_name", "Vertex AI consumes only reservations of GPU VMs: set accelerator_type "
                                            "and accelerator_count to the reservation's."))
    return out


def kind(cfg: DeploymentConfig) -> str:
    """``flex-start``, ``spot``, ``reservation`` (a specific one) or ``on-demand``: what prices and quota follow."""
    if cfg.flex_start_hours > 0:
        return "flex-start"
    if cfg.spot:
        return "spot"
    if cfg.reservation_affinity == "specific":
        return "reservation"
    return "on-demand"


def api_version(cfg: DeploymentConfig) -> str:
    """``v1beta1`` when the request carries a v1beta1-only field (flex-start), else ``v1``."""
    return "v1beta1" if cfg.flex_start_hours > 0 else "v1"


def dedicated_resources(cfg: DeploymentConfig) -> dict[str, Any]:
    """The ``DedicatedResources`` of the deploy request, as the mapping a GAPIC message takes (snake_case).

    Optional fields are left out when off, so an on-demand request is what it was before these fields.
    """
    spec: dict[str, Any] = {
        "machine_type": cfg.machine_type,
        "accelerator_type": cfg.accelerator_type,
        "accelerator_count": cfg.accelerator_count,
    }
    if cfg.reservation_affinity:
        affinity: dict[str, Any] = {"reservation_affinity_type": AFFINITY_TYPES[cfg.reservation_affinity]}
        if cfg.reservation_affinity == "specific":
            affinity.update(key=RESERVATION_KEY, values=[cfg.reservation_name])
        spec["reservation_affinity"] = affinity
    out: dict[str, Any] = {
        "machine_spec": spec,
        "min_replica_count": cfg.min_replica_count,
        "max_replica_count": cfg.max_replica_count,
        "spot": cfg.spot,
    }
    if cfg.required_replica_count > 0:
        out["required_replica_count"] = cfg.required_replica_count
    if cfg.flex_start_hours > 0:
        out["flex_start"] = {"max_runtime_duration": datetime.timedelta(hours=cfg.flex_start_hours)}
    return out


def describe(cfg: DeploymentConfig) -> str:
    """One line for ``plan``, ``submit --dry-run`` and logs, e.g. ``flex-start (DWS), undeployed after 4 h``."""
    if cfg.flex_start_hours > 0:
        text = f"flex-start (DWS), undeployed after {cfg.flex_start_hours} h"
    elif cfg.spot:
        text = "spot VMs (can be preempted)"
    elif cfg.reservation_affinity == "specific":
        text = f"reservation {cfg.reservation_name}"
    elif cfg.reservation_affinity == "any":
        text = "on demand, consuming any matching reservation"
    elif cfg.reservation_affinity == "none":
        text = "on demand, never from a reservation"
    else:
        text = "on demand"
    if cfg.required_replica_count > 0:
        text += f"; succeeds at {cfg.required_replica_count} of {cfg.min_replica_count} replica(s)"
    return text


def rate(cfg: DeploymentConfig) -> Rate:
    """The hourly rate of the deployment's billed replicas, by its capacity kind (flex-start: unknown, saying why)."""
    from vllm_vertex import pricing  # here: the steps that need only the request fields do not carry the prices

    return pricing.rate_for(cfg.machine_type, max(1, cfg.min_replica_count), cfg.spot, kind(cfg))
