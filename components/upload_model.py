"""Step 4: upload a Vertex Model that runs the vLLM serving container."""

from google_cloud_pipeline_components.types.artifact_types import VertexModel
from kfp.dsl import Output

from components._runtime import vllm_component


@vllm_component("secrets")
def upload_model(config: str, run_label: str, model: Output[VertexModel], api_endpoint: str = ""):
    """Uploads the model; the HF token is read from Secret Manager here and never leaves the Model.

    Args:
        config: The validated configuration (JSON).
        run_label: Value of the run label the Model carries.
        model: The uploaded Model (``metadata["resourceName"]`` with ``@version``).
        api_endpoint: Hidden override of the Google API base URL (tests); empty in production.
    """
    from vllm_vertex import naming
    from vllm_vertex.cloud.secrets import read_secret
    from vllm_vertex.cloud.vertex import upload_model as upload
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    token = read_secret(cfg.hf_token_secret, api_endpoint) if cfg.hf_token_secret else None
    print("HF token: read from Secret Manager" if token else "HF token: none (public or gs:// model)")
    name = upload(cfg, run_label, token, api_endpoint)
    model.metadata["resourceName"] = name
    model.uri = naming.resource_uri(name, cfg.region, api_endpoint)
    print(f"uploaded {name}")
