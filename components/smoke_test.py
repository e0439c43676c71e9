"""Step 7: prove the endpoint answers: predict text, predict image+text, OpenAI chat."""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint
from kfp.dsl import Input, Markdown, Metrics, Output

from components._runtime import vllm_component


@vllm_component("openai")
def smoke_test(
    config: str,
    endpoint: Input[VertexEndpoint],
    metrics: Output[Metrics],
    report: Output[Markdown],
    attempts: str = "",
) -> NamedTuple("Outputs", [("verdict", str), ("passed", int), ("failed", int), ("failures", str)]):
    """Runs each check, records pass/fail, latency and answer; never raises for a failed check.

    Args:
        config: The validated configuration (JSON).
        endpoint: The endpoint to check (shared URL, or its dedicated DNS when it has one).
        metrics: Checks passed/failed, latency per check, completion tokens per second, minutes
            deployed and (when the price is known) the estimated GPU cost so far.
        report: Markdown report: the verdict, each answer, the image sent.
        attempts: place-and-deploy's attempts (JSON list): the report lists them when there were several.

    Returns:
        verdict: ``passed`` or ``failed``.
        passed: Number of checks that passed.
        failed: Number of checks that failed.
        failures: The failing checks by name and the first error ("" when all passed).
    """
    from collections import namedtuple

    from vllm_vertex import report as rep
    from vllm_vertex.cloud.smoke import cost_so_far, read_endpoint, run_checks, target_for
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    target = target_for(cfg, endpoint.metadata["resourceName"], endpoint.metadata.get("dedicatedEndpointDns", ""))
    results = run_checks(target)
    cost, cost_line = cost_so_far(read_endpoint(target.endpoint_name, require_deployed=False))
    print(cost_line)
    counts = rep.metrics(results)
    for key, value in {**counts, **cost}.items():
        metrics.log_metric(key, value)
    with open(report.path, "w") as f:
        f.write(rep.render_markdown(results, target.endpoint_name, cfg.model_id,
                                    (cost_line, *rep.attempt_notes(attempts))))
    verdict = rep.verdict(results)
    print(f"smoke tests {verdict}")
    return namedtuple("Outputs", ["verdict", "passed", "failed", "failures"])(
        verdict, int(counts["checks_passed"]), int(counts["checks_failed"]), rep.failure_summary(results)
    )
