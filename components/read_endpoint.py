"""Canary step 1: read an endpoint that already serves, to check it without creating anything.

The step runs this function's source text, so its parameters are spelled out: ``make generate``
writes the smoke tests' ones and their descriptions from their one declaration
(``vllm_vertex.config.DeploymentConfig``).
"""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint
from kfp.dsl import Output

from components._runtime import vllm_component


@vllm_component()
def read_endpoint(
    # Generated from vllm_vertex.config.DeploymentConfig by `make generate`: do not edit.
    project: str,
    location: str,
    model_id: str,
    run_image_checks: bool,
    run_chat_checks: bool,
    smoke_prompt: str,
    smoke_image_url: str,
    smoke_image_prompt: str,
    smoke_max_tokens: int,
    # End of generated parameters.
    endpoint_name: str,
    endpoint: Output[VertexEndpoint],
) -> NamedTuple("Outputs", [("config", str)]):
    """Finds the endpoint (and its dedicated DNS) and builds the smoke-test configuration.

    An importer cannot do this: its metadata cannot take runtime values, and the dedicated DNS
    is only known by reading the endpoint.

    Args:
        project: Google Cloud project ID that owns the endpoint and model.
        location: Vertex AI region, e.g. us-central1.
        model_id: Hugging Face repo id (org/name) or a gs:// folder with the weights.
        run_image_checks: Run the image+text checks (multimodal models only).
        run_chat_checks: Run the OpenAI chat-completions checks (needs a chat template).
        smoke_prompt: Prompt of the text checks.
        smoke_image_url: Image URL of the image checks.
        smoke_image_prompt: Predict-route prompt of the image check.
        smoke_max_tokens: Tokens generated per smoke check.
        endpoint_name: projects/P/locations/L/endpoints/E, or the numeric endpoint ID.
        endpoint: The endpoint (``metadata["resourceName"]``, ``dedicatedEndpointDns``).

    Returns:
        config: The smoke-test configuration (JSON) for the smoke-test step.
    """
    fields = dict(locals())
    from collections import namedtuple

    from vllm_vertex import naming
    from vllm_vertex.cloud.context import current
    from vllm_vertex.cloud.smoke import read_endpoint as read
    from vllm_vertex.config import from_dict

    name = naming.endpoint_resource_name(endpoint_name, project, location)
    found = read(name)
    endpoint.metadata["resourceName"] = found.name
    endpoint.metadata["dedicatedEndpointDns"] = found.dedicated_endpoint_dns
    endpoint.uri = current().resource_uri(found.name, location)
    print(f"checking {found.name} ({len(found.deployed_models)} deployed model(s))")
    for key in ("endpoint_name", "endpoint", "location"):
        fields.pop(key)
    cfg = from_dict({**fields, "region": location, "multimodal": run_image_checks})  # 64.0 → 64; 64.5 refused
    return namedtuple("Outputs", ["config"])(cfg.to_json())
