"""GPU and CPU quota needs, and reading a limit out of a Cloud Quotas ``QuotaInfo``. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_vertex import capacity, hardware
from vllm_vertex.config import DeploymentConfig

__all__ = ["QuotaCheck", "QuotaNeed", "evaluate", "limit_for_region", "needs"]


@dataclass(frozen=True)
class QuotaNeed:
    """One quota a deployment draws on: ``amount`` of ``quota_id`` in ``region``.

    ``unverified`` says why it is not known that this capacity kind draws on this quota ("" when it is known):
    such a need is read and reported, never a reason to stop (a gate must not block what works).
    """

    quota_id: str
    amount: int
    what: str
    unverified: str = ""


@dataclass(frozen=True)
class QuotaCheck:
    """The outcome for one quota. ``limit`` is None when no entry applies; -1 means unlimited."""

    need: QuotaNeed
    limit: int | None

    @property
    def ok(self) -> bool:
        """True when the limit covers the need."""
        return self.limit is not None and (self.limit < 0 or self.limit >= self.need.amount)

    @property
    def blocks(self) -> bool:
        """True when the limit is short of a need known to apply: the deploy would fail, so stop before it."""
        return not self.ok and not self.need.unverified

    def message(self, region: str) -> str:
        """What the user reads for this quota."""
        n = self.need
        limit = "no entry" if self.limit is None else ("unlimited" if self.limit < 0 else str(self.limit))
        text = f"{n.quota_id} in {region}: need {n.amount} ({n.what}), limit {limit}"
        if n.unverified:
            text += f" (unverified: {n.unverified})"
        if self.ok:
            return text + " — ok"
        if n.unverified:
            return text + " — short, not blocking: the deploy will tell"
        return (
            text + ". Request more at https://console.cloud.google.com/iam-admin/quotas "
            f"(filter: {n.quota_id}), lower max_replica_count, or pick another region or machine type."
        )


# Which quota each capacity kind draws on (vllm_vertex.capacity.kind):
# - on-demand: CustomModelServing<GPU>GPUsPerProjectPerRegion and the serving CPUs (FACTS "Quota");
# - spot: the Preemptible GPU quota (FACTS "Quota");
# - flex-start: "Make sure you have sufficient Vertex AI preemptible quota" (Vertex, "Use Flex-start VMs with
#   inference", vertex-ai/docs/predictions/use-flex-start-vms): the Preemptible GPU quota. Whether its vCPUs count
#   against the serving CPU quota is not stated;
# - a specific reservation: "Ensure that sufficient quota is available for your Vertex AI jobs" (Vertex, "Use
#   reservations with inference") without naming the quota: the on-demand ones are the likeliest, unverified.
_RESERVATION_NOTE = "Vertex asks for 'sufficient quota' for reservations without naming it"
_UNVERIFIED: dict[str, tuple[str, str]] = {  # kind → (GPU need's note, CPU need's note)
    "flex-start": ("", "Vertex's flex-start page names the preemptible GPU quota only"),
    "reservation": (_RESERVATION_NOTE, _RESERVATION_NOTE),
}


def needs(cfg: DeploymentConfig) -> list[QuotaNeed]:
    """Quota is charged at max_replica_count × GPUs (or vCPUs) per replica; which quota follows the capacity kind."""
    acc = hardware.accelerator_info(cfg.accelerator_type)
    machine = hardware.machine_info(cfg.machine_type)
    kind = capacity.kind(cfg)
    gpu_quota = acc.spot_quota_id if kind in ("spot", "flex-start") else acc.quota_id
    gpu_note, cpu_note = _UNVERIFIED.get(kind, ("", ""))
    return [
        QuotaNeed(
            gpu_quota,
            cfg.accelerator_count * cfg.max_replica_count,
            f"{cfg.accelerator_count} × {cfg.accelerator_type} × {cfg.max_replica_count} replica(s)",
            gpu_note,
        ),
        QuotaNeed(
            hardware.CPU_QUOTA_ID,
            machine.vcpus * cfg.max_replica_count,
            f"{machine.vcpus} vCPUs of {cfg.machine_type} × {cfg.max_replica_count} replica(s)",
            cpu_note,
        ),
    ]


def limit_for_region(quota_info: dict[str, Any], region: str) -> int | None:
    """The limit that applies in ``region``, from a ``QuotaInfo`` as a dict (camelCase or snake_case).

    An entry whose ``dimensions`` name the region wins; otherwise the entry with no dimensions
    (the default for every region without its own entry) applies.
    """
    infos = quota_info.get("dimensionsInfos") or quota_info.get("dimensions_infos") or []
    default = None
    for info in infos:
        dims = info.get("dimensions") or {}
        value = int((info.get("details") or {}).get("value", 0))
        if dims.get("region") == region:
            return value
        if not dims:
            default = value
    return default


def evaluate(cfg: DeploymentConfig, quota_infos: dict[str, dict[str, Any]]) -> list[QuotaCheck]:
    """Checks every need against the ``QuotaInfo`` dicts keyed by quota ID."""
    return [QuotaCheck(n, limit_for_region(quota_infos.get(n.quota_id, {}), cfg.region)) for n in needs(cfg)]
