"""Step 6: deploy the model to the endpoint and wait, failing when the deploy failed."""

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint, VertexModel
from kfp.dsl import Input

from components._runtime import vllm_component


@vllm_component("logging", "quotas")
def deploy_model(
    config: str, run_label: str, model: Input[VertexModel], endpoint: Input[VertexEndpoint]
) -> str:
    """Deploys with dedicated GPU resources, prints each stage as it goes, raises with the root cause.

    Unlike GCPC's ModelDeployOp, a deploy operation that ends in error fails this step, naming
    the cause from Vertex's error or, when that is generic, from the container's Cloud Logging log.

    Args:
        config: The validated configuration (JSON).
        run_label: Value of the run label.
        model: The uploaded Model.
        endpoint: The endpoint to deploy to.

    Returns:
        The deployed model's ID.
    """
    from vllm_vertex.cloud.vertex import deploy_model as deploy
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    done = deploy(cfg, model.metadata["resourceName"], endpoint.metadata["resourceName"], run_label)
    return done.deployed_model_id
