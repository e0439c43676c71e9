"""Reads serving quotas from the Cloud Quotas API and checks them against the need."""

from __future__ import annotations

from collections.abc import Callable

from vllm_vertex import quota
from vllm_vertex.cloud import clients
from vllm_vertex.config import DeploymentConfig

__all__ = ["QuotaError", "check_quotas"]

SERVICE = "aiplatform.googleapis.com"


class QuotaError(RuntimeError):
    """A quota does not cover the deployment."""


def check_quotas(cfg: DeploymentConfig, api_endpoint: str = "", log: Callable[[str], None] = print) -> list[str]:
    """Checks GPU and CPU serving quota in the region; returns the lines it logged.

    A quota ID the API does not know is reported and skipped (it cannot be verified); a quota
    whose limit is below the need raises ``QuotaError`` naming the ID, limit, need and fix.
    """
    from google.api_core import exceptions
    from google.cloud import cloudquotas_v1
    from google.protobuf import json_format

    client = clients.quotas_client(api_endpoint)
    infos: dict[str, dict] = {}
    lines: list[str] = []
    for need in quota.needs(cfg):
        name = f"projects/{cfg.project}/locations/global/services/{SERVICE}/quotaInfos/{need.quota_id}"
        try:
            info = client.get_quota_info(name=name, retry=clients.retry())
        except exceptions.NotFound:
            lines.append(f"{need.quota_id}: not known to the Cloud Quotas API; not checked")
            continue
        infos[need.quota_id] = json_format.MessageToDict(cloudquotas_v1.QuotaInfo.pb(info))
    checks = [c for c in quota.evaluate(cfg, infos) if c.need.quota_id in infos]
    lines += [c.message(cfg.region) for c in checks]
    for line in lines:
        log(line)
    short = [c.message(cfg.region) for c in checks if not c.ok]
    if short:
        raise QuotaError("quota does not cover this deployment:\n" + "\n".join(short))
    return lines
