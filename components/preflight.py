"""Step 3: predict the deploy's failures in seconds, before anything is created."""

from kfp.dsl import Markdown, Output

from components._runtime import vllm_component


@vllm_component("secrets", "hf")
def preflight(config: str, report: Output[Markdown]) -> str:
    """Checks the model's source (exists, gated and reachable with the token, chat template) and plans memory.

    Fails with each cause and its fix when the deploy would fail: weights that do not fit, a KV
    cache smaller than max_model_len, a multimodal profiling run that runs out of memory, tensor
    parallelism that does not divide the heads, a gated repo without access, no chat template.

    Args:
        config: The validated configuration (JSON).
        report: Markdown report: the verdict, the findings and the capacity figures.

    Returns:
        The capacity verdict (``ok`` when it fits, ``at_risk`` when it fits only within the planner's error
        band and block_on_plan_risk is false, ``unplanned`` without a config).
    """
    from vllm_vertex import preflight as pf
    from vllm_vertex.cloud.preflight import run_preflight
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    result = run_preflight(cfg)
    text = pf.render_markdown(result, cfg)
    with open(report.path, "w") as f:
        f.write(text)
    print(text)
    if not result.ok:
        raise RuntimeError(result.error_text())
    return result.plan.verdict.value if result.plan else "unplanned"
