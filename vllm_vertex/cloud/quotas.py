"""Reads serving quotas from the Cloud Quotas API and checks them against the need."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from vllm_vertex import quota
from vllm_vertex.cloud import clients
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.errors import QuotaError

__all__ = ["check_ladder", "check_quotas", "forbidden_message", "quota_note", "quota_of", "read_checks", "read_quotas"]

SERVICE = "aiplatform.googleapis.com"


def read_quotas(
    cfg: DeploymentConfig, timeout: float | None = None
) -> tuple[list[quota.QuotaCheck], list[str]]:
    """Each quota the deployment draws on that the Cloud Quotas API knows, and a line for each it does not.

    Args:
        cfg: The deployment.
        timeout: Retry budget per read in seconds (``None``: the default budget).

    Raises:
        QuotaError: the API refused (disabled, or no permission); the message says the fix.
    """
    from google.api_core import exceptions
    from google.cloud import cloudquotas_v1
    from google.protobuf import json_format

    client = clients.quotas_client()
    retry = clients.retry() if timeout is None else clients.retry(timeout=timeout)
    infos: dict[str, dict] = {}
    unknown: list[str] = []
    for need in quota.needs(cfg):
        name = f"projects/{cfg.project}/locations/global/services/{SERVICE}/quotaInfos/{need.quota_id}"
        try:
            info = client.get_quota_info(name=name, retry=retry)
        except exceptions.NotFound:
            unknown.append(f"{need.quota_id}: not known to the Cloud Quotas API; not checked")
            continue
        except (exceptions.Forbidden, exceptions.PermissionDenied) as err:
            raise QuotaError(forbidden_message(err, cfg.project)) from None
        infos[need.quota_id] = json_format.MessageToDict(cloudquotas_v1.QuotaInfo.pb(info))
    return [c for c in quota.evaluate(cfg, infos) if c.need.quota_id in infos], unknown


def read_checks(cfg: DeploymentConfig) -> tuple[list[quota.QuotaCheck], list[str]]:
    """Each quota the deployment draws on, read from the Cloud Quotas API, with the lines to log.

    A quota ID the API does not know is reported and skipped (it cannot be verified).

    Raises:
        QuotaError: the API refused (disabled, or no permission); the message says the fix.
    """
    checks, unknown = read_quotas(cfg)
    return checks, unknown + [c.message(cfg.region) for c in checks]


def check_quotas(cfg: DeploymentConfig, log: Callable[[str], None] = print) -> list[str]:
    """Checks GPU and CPU serving quota in the region; returns the lines it logged.

    A quota whose limit is below the need raises ``QuotaError`` naming the ID, limit, need and fix.
    """
    checks, lines = read_checks(cfg)
    for line in lines:
        log(line)
    short = [c.message(cfg.region) for c in checks if c.blocks]
    if short:
        raise QuotaError("quota does not cover this deployment:\n" + "\n".join(short))
    return lines


def quota_of(cfg: DeploymentConfig) -> list[quota.QuotaCheck] | str:
    """One placement's quota checks for ``ladder.ladder``; a refused read (403, API off) still raises."""
    checks, unknown = read_quotas(cfg)
    return checks if checks or not unknown else "; ".join(unknown)


def check_ladder(cfg: DeploymentConfig, log: Callable[[str], None] = print) -> str:
    """Every placement's quota, price and verdict (``ladder.ladder``), logged; the ladder as JSON.

    Raises ``QuotaError`` when no placement's quota covers it, naming each one's shortfall.
    """
    import json

    from vllm_vertex import ladder

    rungs = ladder.ladder(cfg, None, quota_of)
    for line in ladder.ladder_lines(rungs):
        log(line)
    if not ladder.viable(rungs):
        raise QuotaError("quota covers no placement:\n" + "\n".join(f"- {r.where}: {r.skip}" for r in rungs))
    return json.dumps([r.to_dict() for r in rungs])


def quota_note(cfg: DeploymentConfig, cause: str = "stockout") -> str:
    """Whether quota explains a deploy that ended RESOURCE_EXHAUSTED: the limits read again, now.

    ``cause`` is the diagnosis of Vertex's text: ``stockout`` (no machines) or ``quota_exceeded``.
    The Cloud Quotas API gives limits, not usage: a limit that covers this deployment alone can
    still be used up by other deployments in the region.
    """
    try:
        checks, _ = read_checks(cfg)
    except Exception as err:  # the note is an aid: say why it is missing
        return f"Whether quota was the cause could not be checked ({type(err).__name__}: {err})."
    short = [c for c in checks if c.blocks]
    if short:
        return "Quota is the cause: " + "; ".join(c.message(cfg.region) for c in short)
    if not checks:
        return "Whether quota was the cause could not be checked: the Cloud Quotas API knows none of its quotas."
    ok = "; ".join(c.message(cfg.region) for c in checks)
    if cause == "quota_exceeded":
        return (
            f"The limits cover this deployment alone ({ok}): other deployments in the region use the rest "
            "(usage: Cloud Monitoring, serviceruntime.googleapis.com/quota/allocation/usage). Undeploy them "
            "or request more."
        )
    return f"Quota was not the cause: {ok}. The region is out of these machines for now (a stockout)."


def forbidden_message(err: Exception, project: str) -> str:
    """A 403 from the Cloud Quotas API: the API is disabled (name it and the command) or a role is missing."""
    reason = getattr(err, "reason", None)
    metadata = getattr(err, "metadata", None) or {}
    text = str(err)
    if reason == "SERVICE_DISABLED" or "has not been used in project" in text or "it is disabled" in text:
        api = metadata.get("service") or "cloudquotas.googleapis.com"
        return (
            f"the {api} API is not enabled in project {project}, so quota cannot be checked. Enable it: "
            f"gcloud services enable {shlex.quote(api)} --project={shlex.quote(project)} (it takes a minute to "
            "apply), then run again."
        )
    return (
        f"no permission to read quota in project {project} (403 from the Cloud Quotas API). Grant the "
        "pipeline's service account roles/cloudquotas.viewer: gcloud projects add-iam-policy-binding "
        f"{shlex.quote(project)} --member=serviceAccount:SERVICE_ACCOUNT --role=roles/cloudquotas.viewer"
    )
