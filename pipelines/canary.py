"""The canary pipeline: smoke-test an endpoint that already serves. Creates and deletes nothing.

read-endpoint ─► smoke-test ─► check-verdict. Cheap enough to schedule nightly against a
deployment kept by ``teardown_policy: on_failure``/``never``.
"""


from kfp import dsl

from components import check_verdict, read_endpoint, smoke_test
from pipelines.deploy_and_verify import _side_effect
from pipelines.signatures import declared
from vllm_vertex.parameters import SMOKE

CANARY_NAME = "vllm-canary"


@declared(*SMOKE)
def _canary(endpoint: str, **params):
    """Smoke-tests an existing Vertex endpoint (shared or dedicated); fails when a check fails.

    Args:
        endpoint: projects/P/locations/L/endpoints/E, or the numeric endpoint ID.
    """
    found = _side_effect(read_endpoint(endpoint_name=endpoint, **params), "read-endpoint")
    smoke = smoke_test(config=found.outputs["config"], endpoint=found.outputs["endpoint"])
    _side_effect(smoke, "smoke-test")
    gate = check_verdict(
        verdict=smoke.outputs["verdict"], passed=smoke.outputs["passed"], failed=smoke.outputs["failed"],
        failures=smoke.outputs["failures"],
    )
    _side_effect(gate, "check-verdict")


canary = dsl.pipeline(name=CANARY_NAME)(_canary)
