"""Step 8: measure the endpoint under load (``probe_profile``), after smoke tests that passed."""

from typing import NamedTuple

from google_cloud_pipeline_components.types.artifact_types import VertexEndpoint
from kfp.dsl import HTML, Artifact, Input, Metrics, Output

from components._runtime import vllm_component


@vllm_component("aiohttp")
def probe(
    config: str,
    endpoint: Input[VertexEndpoint],
    smoke_verdict: str,
    metrics: Output[Metrics],
    report: Output[HTML],
    results: Output[Artifact],
) -> NamedTuple("Outputs", [("verdict", str), ("summary", str)]):
    """Runs the profile's load probe and writes its report; never raises for a missed SLO (the gate does).

    Args:
        config: The validated configuration (JSON): ``probe_profile``, ``probe_slo``, the image of the checks.
        endpoint: The deployed endpoint (streamed through its dedicated DNS when it has one).
        smoke_verdict: The smoke tests' verdict; the probe runs only after ``passed``.
        metrics: Headline figures per concurrency level (``c{C}_median_ttft_ms``, ...), the verdict, capacity.
        report: HTML report: a table per level, inline SVG charts, the SLO checks.
        results: Every figure and per-request sample, as JSON.

    Returns:
        verdict: ``passed``, ``failed`` (SLO missed or the probe could not run) or ``skipped``.
        summary: One line: what was measured or why not.
    """
    import json
    from collections import namedtuple

    from vllm_vertex.cloud.probe import run_step
    from vllm_vertex.config import DeploymentConfig
    from vllm_vertex.probe import report as rep

    cfg = DeploymentConfig.from_json(config)
    name = endpoint.metadata["resourceName"]
    outcome = run_step(cfg, name, endpoint.metadata.get("dedicatedEndpointDns", ""), smoke_verdict)
    with open(results.path, "w") as f:
        json.dump({"verdict": outcome.verdict, "summary": outcome.summary, "result": outcome.result}, f)
    with open(report.path, "w") as f:
        title = f"Load probe of {name} ({cfg.probe_profile})"
        f.write(rep.render_html(outcome.result, title) if outcome.result else rep.render_note(title, outcome.summary))
    if outcome.result:
        for key, value in rep.kfp_metrics(outcome.result).items():
            metrics.log_metric(key, value)
    print(f"probe {outcome.verdict}: {outcome.summary}")
    return namedtuple("Outputs", ["verdict", "summary"])(outcome.verdict, outcome.summary)
