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
"""

from __future__ import annotations

import datetime
from typing import Any

from vllm_vertex import pricing
from vllm_vertex.config import DeploymentConfig

__all__ = ["AFFINITY_TYPES", "RESERVATION_KEY", "api_version", "dedicated_resources", "describe", "kind", "rate"]

RESERVATION_KEY = "compute.googleapis.com/reservation-name"
AFFINITY_TYPES = {"any": "ANY_RESERVATION", "specific": "SPECIFIC_RESERVATION", "none": "NO_RESERVATION"}


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


def rate(cfg: DeploymentConfig) -> pricing.Rate:
    """The hourly rate of the deployment's billed replicas, by its capacity kind (flex-start: unknown, saying why)."""
    return pricing.rate_for(cfg.machine_type, max(1, cfg.min_replica_count), cfg.spot, kind(cfg))
