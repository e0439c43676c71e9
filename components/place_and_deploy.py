"""Step 4: place and deploy — upload, create the endpoint and deploy, falling back across placements."""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint, VertexModel
from kfp.dsl import Metrics, Output

from components._runtime import vllm_component


@vllm_component("secrets", "logging", "quotas")
def place_and_deploy(
    config: str,
    run_label: str,
    weights_uri: str,
    model: Output[VertexModel],
    endpoint: Output[VertexEndpoint],
    metrics: Output[Metrics],
) -> NamedTuple("Outputs", [("placement", str), ("attempts", str)]):
    """Walks the placements in order (upload → endpoint → deploy each) until one has GPUs.

    A stockout or quota used up since the check removes what that attempt created in its region, then
    tries the next placement; any other error stops at once. The HF token is read from Secret Manager
    here and never leaves the Model; with staged weights the Model loads ``weights_uri`` and gets none.

    Args:
        config: The validated configuration (JSON).
        run_label: Value of the run label every resource carries.
        weights_uri: The staged weights' gs:// folder; empty: the Model downloads ``model_id`` itself.
        model: The uploaded Model (``metadata["resourceName"]`` with ``@version``).
        endpoint: The endpoint it serves on, wherever it landed (``resourceName``, ``dedicatedEndpointDns``).
        metrics: Attempts, placement tried last, minutes spent.

    Returns:
        placement: The placement that deployed (JSON); attempts: every attempt (JSON list).
    """
    import dataclasses
    from collections import namedtuple

    from vllm_vertex import naming
    from vllm_vertex.cloud.context import current
    from vllm_vertex.cloud.placing import attempts_json
    from vllm_vertex.cloud.placing import place_and_deploy as place
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    token = None
    if weights_uri:  # staged weights: every placement's Model loads the same folder, with no token
        cfg = dataclasses.replace(cfg, model_id=weights_uri)
    elif cfg.hf_token_secret:
        from vllm_vertex.cloud.secrets import read_secret

        token = read_secret(cfg.hf_token_secret)
    print("HF token: read from Secret Manager" if token else "HF token: none (public, staged or gs:// model)")
    placed = place(cfg, run_label, token)
    region = placed.candidate.region
    model.metadata["resourceName"] = placed.model_name
    model.uri = current().resource_uri(placed.model_name, region)
    endpoint.metadata["resourceName"] = placed.endpoint.name
    endpoint.metadata["dedicatedEndpointDns"] = placed.endpoint.dedicated_endpoint_dns
    endpoint.uri = current().resource_uri(placed.endpoint.name, region)
    metrics.log_metric("placement_attempts", len(placed.attempts))
    metrics.log_metric("placement_used", placed.attempts[-1].candidate)
    metrics.log_metric("placement_minutes", round(sum(a.minutes for a in placed.attempts), 2))
    print(f"console: {naming.console_endpoint_url(placed.endpoint.name)}")
    return namedtuple("Outputs", ["placement", "attempts"])(placed.placement_json(), attempts_json(placed.attempts))
