"""Step 2: GPU and CPU serving quota in the region covers the deployment."""

from components._runtime import vllm_component


@vllm_component("quotas")
def check_quota(config: str) -> str:
    """Fails when the Cloud Quotas limit is below max replicas × GPUs (or vCPUs) per replica.

    Args:
        config: The validated configuration (JSON) from the validate step.

    Returns:
        One line per quota checked: ID, need, limit.
    """
    from vllm_vertex.cloud.quotas import check_quotas
    from vllm_vertex.config import DeploymentConfig

    return "\n".join(check_quotas(DeploymentConfig.from_json(config)))
