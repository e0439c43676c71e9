"""GPU and CPU quota needs, and reading a limit out of a Cloud Quotas ``QuotaInfo``. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vllm_vertex import hardware
from vllm_vertex.config import DeploymentConfig

__all__ = ["QuotaCheck", "QuotaNeed", "evaluate", "limit_for_region", "needs"]


@dataclass(frozen=True)
class QuotaNeed:
    """One quota a deployment draws on: ``amount`` of ``quota_id`` in ``region``."""

    quota_id: str
    amount: int
    what: str


@dataclass(frozen=True)
class QuotaCheck:
    """The outcome for one quota. ``limit`` is None when no entry applies; -1 means unlimited."""

    need: QuotaNeed
    limit: int | None

    @property
    def ok(self) -> bool:
        """True when the limit covers the need."""
        return self.limit is not None and (self.limit < 0 or self.limit >= self.need.amount)

    def message(self, region: str) -> str:
        """What the user reads for this quota."""
        n = self.need
        limit = "no entry" if self.limit is None else ("unlimited" if self.limit < 0 else str(self.limit))
        text = f"{n.quota_id} in {region}: need {n.amount} ({n.what}), limit {limit}"
        if self.ok:
            return text + " — ok"
        return (
            text + ". Request more at https://console.cloud.google.com/iam-admin/quotas "
            f"(filter: {n.quota_id}), lower max_replica_count, or pick another region or machine type."
        )


def needs(cfg: DeploymentConfig) -> list[QuotaNeed]:
    """Quota is charged at max_replica_count × GPUs (or vCPUs) per replica."""
    acc = hardware.accelerator_info(cfg.accelerator_type)
    machine = hardware.machine_info(cfg.machine_type)
    gpu_quota = acc.spot_quota_id if cfg.spot else acc.quota_id
    return [
        QuotaNeed(
            gpu_quota,
            cfg.accelerator_count * cfg.max_replica_count,
            f"{cfg.accelerator_count} × {cfg.accelerator_type} × {cfg.max_replica_count} replica(s)",
        ),
        QuotaNeed(
            hardware.CPU_QUOTA_ID,
            machine.vcpus * cfg.max_replica_count,
            f"{machine.vcpus} vCPUs of {cfg.machine_type} × {cfg.max_replica_count} replica(s)",
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
