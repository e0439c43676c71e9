"""Model upload, endpoint creation and deploy, through ``aiplatform_v1`` (REST)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from vllm_vertex import clock, container, naming, textsafe
from vllm_vertex.cloud import auth, clients, operations
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.diagnosis import diagnose
from vllm_vertex.errors import DeployError

__all__ = ["create_endpoint", "deploy_model", "follow_operation", "upload_model"]


def _parent(cfg: DeploymentConfig) -> str:
    return f"projects/{cfg.project}/locations/{cfg.region}"


@auth.named_errors("upload the model")
def upload_model(cfg: DeploymentConfig, run_label: str, hf_token: str | None) -> str:
    """Uploads a Model with the vLLM container; returns its name with ``@version``."""
    from google.cloud import aiplatform_v1

    spec = container.container_spec(cfg, hf_token)
    timeout_s = spec.pop("deployment_timeout_seconds")
    model = aiplatform_v1.Model(
        display_name=naming.display_name(cfg.model_id, run_label, "model"),
        labels=naming.resource_labels(cfg.labels, run_label),
        container_spec=aiplatform_v1.ModelContainerSpec(
            **spec, deployment_timeout=datetime.timedelta(seconds=timeout_s)
        ),
    )
    client = clients.model_client(cfg.region)
    op = client.upload_model(parent=_parent(cfg), model=model, retry=clients.retry(idempotent=False))
    result = operations.tolerant(op, cfg.region).result(timeout=900)
    return f"{result.model}@{result.model_version_id or '1'}"


@auth.named_errors("create the endpoint")
def create_endpoint(cfg: DeploymentConfig, run_label: str):
    """Creates a shared or dedicated endpoint; returns the ``aiplatform_v1.Endpoint``."""
    from google.cloud import aiplatform_v1

    endpoint = aiplatform_v1.Endpoint(
        display_name=naming.display_name(cfg.model_id, run_label, "endpoint"),
        labels={**naming.resource_labels(cfg.labels, run_label), **_keep_until(cfg)},
        dedicated_endpoint_enabled=cfg.dedicated_endpoint,
    )
    client = clients.endpoint_client(cfg.region)
    op = client.create_endpoint(parent=_parent(cfg), endpoint=endpoint, retry=clients.retry(idempotent=False))
    return operations.tolerant(op, cfg.region).result(timeout=900)


def _keep_until(cfg: DeploymentConfig) -> dict[str, str]:
    """``{vllm-vertex-keep-until: <Unix time>}`` when the run keeps its deployment for ``keep_for_hours``."""
    import time

    if not cfg.keep_for_hours:
        return {}
    return {naming.KEEP_UNTIL_KEY: str(int(time.time() + cfg.keep_for_hours * 3600))}


@dataclass(frozen=True)
class Deployed:
    """What a finished deploy gives: the deployed model's id and the endpoint."""

    deployed_model_id: str
    endpoint_name: str


@auth.named_errors("deploy the model")
def deploy_model(
    cfg: DeploymentConfig,
    model_name: str,
    endpoint_name: str,
    run_label: str,
    log: Callable[[str], None] = print,
) -> Deployed:
    """Deploys the model with all traffic and waits; raises ``DeployError`` with the root cause.

    The capacity fields (reservation affinity, required replicas, flex-start) come from
    ``vllm_vertex.capacity``; a flex-start deploy goes through the v1beta1 client, the only API version
    with ``dedicatedResources.flexStart``.
    """
    from vllm_vertex import capacity

    version = capacity.api_version(cfg)
    if version == "v1beta1":
        from google.cloud import aiplatform_v1beta1 as types
    else:
        from google.cloud import aiplatform_v1 as types

    deployed = types.DeployedModel(
        model=model_name,
        display_name=naming.display_name(cfg.model_id, run_label, "deployed"),
        dedicated_resources=types.DedicatedResources(capacity.dedicated_resources(cfg)),
        service_account=cfg.service_account,
    )
    client = clients.endpoint_client(cfg.region, version)
    log(
        f"deploying {model_name} to {endpoint_name} on {cfg.max_replica_count}× {cfg.machine_type} "
        f"with {cfg.accelerator_count}× {cfg.accelerator_type} ({capacity.describe(cfg)}); this takes up to an hour"
    )
    since = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    op = client.deploy_model(
        endpoint=endpoint_name, deployed_model=deployed, traffic_split={"0": 100}, retry=clients.retry(idempotent=False)
    )
    op = operations.tolerant(op, cfg.region, version)  # the image's aiplatform may not know newer stages
    from vllm_vertex.cloud.logs import container_log

    def read_log() -> str:
        return container_log(cfg.project, endpoint_name, since)

    try:
        result = follow_operation(op, cfg.deploy_timeout_seconds, "deploy", log, client=client, read_log=read_log)
    except DeployError as err:
        if err.cause not in ("stockout", "quota_exceeded"):
            raise
        from vllm_vertex.cloud.quotas import quota_note

        raise DeployError(f"{err}\n{quota_note(cfg, err.cause)}", err.cause) from None
    return Deployed(result.deployed_model.id, endpoint_name)


def follow_operation(
    op,
    timeout_s: float,
    what: str,
    log: Callable[[str], None] = print,
    client=None,
    read_log: Callable[[], str] | None = None,
):
    """Polls a long-running operation, printing each stage change with the elapsed time.

    Polls often at first and every 30 s at most later. Raises ``DeployError`` when the
    operation ends with an error (with Vertex's text and the diagnosed cause) or runs past
    ``timeout_s`` (then ``client``, the service client that started it, cancels it). When
    Vertex's error text names no known cause, ``read_log`` (the container's log) is searched. Time is
    ``vllm_vertex.clock``'s.
    """
    start, delay, last_stage = clock.monotonic(), 0.5, None
    while not op.done(retry=clients.retry()):
        elapsed = clock.monotonic() - start
        stage = _stage(op)
        if stage != last_stage:
            log(f"[{elapsed:7.1f}s] {what}: {stage or 'running'}")
            last_stage = stage
        if elapsed > timeout_s:
            _cancel(client, op, log)
            raise DeployError(
                f"{what} did not finish within {timeout_s:.0f} s (operation {op.operation.name}); cancelled it. "
                "Raise deploy_timeout_seconds for large models, or check the endpoint's logs in Cloud Logging."
            )
        clock.sleep(min(delay, max(0.0, timeout_s - elapsed) + 0.1))
        delay = min(delay * 1.5, 30.0)
    error = op.exception()
    if error is not None:
        message = getattr(error, "message", None) or str(error)
        cause, text = _root_cause(f"{type(error).__name__}: {message}", read_log, log)
        raise DeployError(textsafe.plain(f"{what} failed: {message}\n{text}", 4000), cause)
    log(f"[{clock.monotonic() - start:7.1f}s] {what}: done")
    return op.result()


def _root_cause(message: str, read_log: Callable[[], str] | None, log: Callable[[str], None]) -> tuple[str, str]:
    """``(key, text)``: the diagnosed cause from Vertex's error, else from the newest matching container log line."""
    found = diagnose(message)
    if found:
        return found.key, found.text()
    if read_log is not None:
        try:
            lines = read_log().splitlines()
        except Exception as err:  # the log is an aid: say why it is missing, keep Vertex's error
            log(textsafe.plain(f"could not read the container log: {err}", 1000))
            lines = []
        for line in reversed(lines):
            found = diagnose(line)
            if found:
                return found.key, f"{found.text()}\nContainer log: {textsafe.plain(line.strip(), 500, keep='')}"
    return "", "Open the endpoint's logs in Cloud Logging for the container's own error."


def _cancel(client, op, log: Callable[[str], None]) -> None:
    """Asks Vertex to cancel the operation; cleanup still checks what is left.

    Uses the service client's ``cancel_operation`` mixin: ``op.cancel()`` goes through
    api_core's REST operations transport, which fails on Vertex's cancel route (KeyError 'body').
    """
    if client is None:
        return
    try:
        client.cancel_operation(request={"name": op.operation.name})
        log(f"cancelled {op.operation.name}")
    except Exception as err:  # not every operation can be cancelled; cleanup waits for it instead
        log(f"could not cancel {op.operation.name}: {err}")


def _stage(op) -> str:
    try:
        stage = op.metadata.deployment_stage
        return getattr(stage, "name", str(stage)) if stage else ""
    except AttributeError:
        return ""
