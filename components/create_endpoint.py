"""Step 5: create a shared or dedicated Vertex endpoint."""

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint
from kfp.dsl import Output

from components._runtime import vllm_component


@vllm_component()
def create_endpoint(config: str, run_label: str, endpoint: Output[VertexEndpoint]):
    """Creates the endpoint (GCPC's EndpointCreateOp cannot make dedicated ones).

    Args:
        config: The validated configuration (JSON).
        run_label: Value of the run label the endpoint carries.
        endpoint: The endpoint (``metadata["resourceName"]``; ``dedicatedEndpointDns`` when dedicated).
    """
    from vllm_vertex import naming
    from vllm_vertex.cloud.context import current
    from vllm_vertex.cloud.vertex import create_endpoint as create
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    created = create(cfg, run_label)
    endpoint.metadata["resourceName"] = created.name
    endpoint.metadata["dedicatedEndpointDns"] = created.dedicated_endpoint_dns
    endpoint.uri = current().resource_uri(created.name, cfg.region)
    kind = f"dedicated, DNS {created.dedicated_endpoint_dns}" if cfg.dedicated_endpoint else "shared"
    print(f"created {created.name} ({kind})")
    print(f"console: {naming.console_endpoint_url(created.name)}")
