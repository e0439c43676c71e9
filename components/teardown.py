"""Step 8: undeploy, delete the endpoint, delete the model (under the teardown condition)."""

from components._runtime import vllm_component


@vllm_component()
def teardown(project: str, location: str, placements: list, run_label: str) -> str:
    """Removes every endpoint and model carrying this run's label; fails if any is left.

    Args:
        project: Google Cloud project ID.
        location: Vertex AI region.
        placements: The run's placements: every region they name is looked in too.
        run_label: Value of the ``vllm-vertex-run`` label of this run's resources.

    Returns:
        What was removed, one line per resource.
    """
    from vllm_vertex.cloud.teardown import teardown_run_or_raise
    from vllm_vertex.placements import regions

    return teardown_run_or_raise(project, regions(location, placements), run_label)
