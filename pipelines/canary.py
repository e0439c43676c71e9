"""The canary pipeline: smoke-test an endpoint that already serves. Creates and deletes nothing.

read-endpoint ─► smoke-test ─► check-verdict. Cheap enough to schedule nightly against a
deployment kept by ``teardown_policy: on_failure``/``never``.
"""


from kfp import dsl

from components import check_verdict, read_endpoint, smoke_test
from pipelines.deploy_and_verify import _side_effect

CANARY_NAME = "vllm-canary"


def _canary(
    project: str,
    location: str,
    endpoint: str,
    model_id: str,
    run_image_checks: bool,
    run_chat_checks: bool,
    smoke_prompt: str,
    smoke_image_url: str,
    smoke_image_prompt: str,
    smoke_max_tokens: int,
):
    """Smoke-tests an existing Vertex endpoint (shared or dedicated); fails when a check fails.

    Args:
        project: Google Cloud project ID that owns the endpoint.
        location: Vertex AI region of the endpoint.
        endpoint: projects/P/locations/L/endpoints/E, or the numeric endpoint ID.
        model_id: The model the endpoint serves (shown in the report).
        run_image_checks: Run the image+text checks (multimodal models only).
        run_chat_checks: Run the OpenAI chat-completions checks (needs a chat template).
        smoke_prompt: Prompt of the text checks.
        smoke_image_url: Image URL of the image checks.
        smoke_image_prompt: Predict-route prompt of the image check.
        smoke_max_tokens: Tokens generated per smoke check.
    """
    params = {k: v for k, v in locals().items() if k != "endpoint"}
    found = _side_effect(read_endpoint(endpoint_name=endpoint, **params), "read-endpoint")
    smoke = smoke_test(config=found.outputs["config"], endpoint=found.outputs["endpoint"])
    _side_effect(smoke, "smoke-test")
    gate = check_verdict(
        verdict=smoke.outputs["verdict"], passed=smoke.outputs["passed"], failed=smoke.outputs["failed"],
        failures=smoke.outputs["failures"],
    )
    _side_effect(gate, "check-verdict")


canary = dsl.pipeline(name=CANARY_NAME)(_canary)
