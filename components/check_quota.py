"""Step 2: GPU and CPU serving quota in the region covers the deployment."""

from components._runtime import vllm_component


@vllm_component("quotas")
def check_quota(config: str) -> str:
    """Fails when the Cloud Quotas limit is below max replicas × GPUs (or vCPUs) per replica.

    With placements, reads every placement's quota and prints the ladder (quota and price per placement);
    fails only when no placement is covered (place-and-deploy reads each again before trying it).

    Args:
        config: The validated configuration (JSON) from the validate step.

    Returns:
        One line per quota checked: ID, need, limit; with placements, the ladder (JSON).
    """
    from vllm_vertex.cloud.quotas import check_ladder, check_quotas
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    if cfg.placements:  # every placement's quota; fails only when none is covered
        return check_ladder(cfg)
    return "\n".join(check_quotas(cfg))
