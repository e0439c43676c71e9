"""Step 4: upload a Vertex Model that runs the vLLM serving container."""

from google_cloud_pipeline_components.types.artifact_types import VertexModel
from kfp.dsl import Output

from components._runtime import vllm_component


@vllm_component("secrets")
def upload_model(config: str, run_label: str, model: Output[VertexModel], weights_uri: str = ""):
    """Uploads the model; the HF token is read from Secret Manager here and never leaves the Model.

    With staged weights the Model loads the gs:// folder and gets no token at all.

    Args:
        config: The validated configuration (JSON).
        run_label: Value of the run label the Model carries.
        weights_uri: The staged gs:// folder from stage-weights ("" when staging is off).
        model: The uploaded Model (``metadata["resourceName"]`` with ``@version``).
    """
    import dataclasses

    from vllm_vertex.cloud.context import current
    from vllm_vertex.cloud.secrets import read_secret
    from vllm_vertex.cloud.vertex import upload_model as upload
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    token = read_secret(cfg.hf_token_secret) if cfg.hf_token_secret else None
    if weights_uri:
        cfg = dataclasses.replace(cfg, model_id=weights_uri)
        token = None
    print("HF token: read from Secret Manager" if token else f"HF token: none ({weights_uri or 'public or gs://'})")
    name = upload(cfg, run_label, token)
    model.metadata["resourceName"] = name
    model.uri = current().resource_uri(name, cfg.region)
    print(f"uploaded {name}")
