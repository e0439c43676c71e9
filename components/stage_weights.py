"""Step 3b: stage the weights in Cloud Storage at a pinned commit, so the Model loads them with no HF token."""

from kfp.dsl import Markdown, Output

from components._runtime import vllm_component


@vllm_component("secrets", "hf")
def stage_weights(config: str, report: Output[Markdown]) -> str:
    """Copies what vLLM needs from the Hub to ``stage_weights_to/<org>/<name>/<sha>/``; a no-op when it is empty.

    Streams each file Hub → Cloud Storage (no local copy, bounded memory), skips files already staged and
    complete (size and the Hub's sha256), and writes the ``_COMPLETE`` manifest last.

    Args:
        config: The validated configuration (JSON).
        report: Markdown report: repo, revision, commit sha, gs:// folder, bytes, staging time.

    Returns:
        The staged gs:// folder for the Model (``""`` when staging is off).
    """
    from vllm_vertex.cloud.secrets import read_secret
    from vllm_vertex.cloud.weights import stage
    from vllm_vertex.config import DeploymentConfig

    cfg = DeploymentConfig.from_json(config)
    if not cfg.stage_weights_to or cfg.model_id.startswith("gs://"):
        text = "# Staged weights\n\nOff: " + ("model_id is already a gs:// folder." if cfg.stage_weights_to else
                                              "stage_weights_to is empty; the container downloads from the Hub.")
        with open(report.path, "w") as f:
            f.write(text + "\n")
        print(text)
        return ""
    token = read_secret(cfg.hf_token_secret) if cfg.hf_token_secret else None
    result = stage(cfg.model_id, cfg.model_revision, cfg.stage_weights_to, cfg.project, token)
    with open(report.path, "w") as f:
        f.write(result.markdown())
    return result.manifest.uri
