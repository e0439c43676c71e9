"""Gate of the probe: the run fails when the endpoint missed its SLO, after the report is written."""

from components._runtime import vllm_component


@vllm_component()
def check_probe(verdict: str, summary: str):
    """Raises when the probe failed, so ``on_failure`` cleanup removes a deployment that is too slow.

    Args:
        verdict: ``passed``, ``failed`` or ``skipped`` from the probe step.
        summary: The probe's one-line summary (the missed thresholds).
    """
    if verdict == "failed":
        raise RuntimeError(f"load probe failed: {summary}; see the probe report")
    print(f"load probe {verdict}: {summary}")
