"""Exit handler: after any outcome, remove what the run left, as the teardown policy says."""

from kfp.dsl import PipelineTaskFinalStatus

from components._runtime import vllm_component


@vllm_component()
def cleanup_on_exit(
    project: str,
    location: str,
    placements: list,
    job_resource_name: str,
    teardown_policy: str,
    status: PipelineTaskFinalStatus,
) -> str:
    """Runs when the pipeline ends, failed, cancelled or not; finds resources by the run label.

    ``always`` removes whatever is left; ``on_failure`` removes it unless the run succeeded;
    ``never`` keeps it. KFP's exit task cannot read other tasks' outputs, so the run label is
    derived here from the job's resource name exactly as the validate step derives it, and only
    resources with both ``managed-by`` and that label are removed.

    Args:
        project: Google Cloud project ID.
        location: Vertex AI region.
        placements: The run's placements: their regions are looked in too.
        job_resource_name: The pipeline job's full resource name (projects/P/locations/L/pipelineJobs/ID).
        teardown_policy: always | on_failure | never.
        status: The pipeline's final status (set by KFP).

    Returns:
        What was removed, or why nothing was.
    """
    from vllm_vertex.cloud.teardown import teardown_run_or_raise
    from vllm_vertex.naming import run_label_value, should_clean_up
    from vllm_vertex.placements import regions
    from vllm_vertex.textsafe import plain

    state = status.state
    print(f"pipeline ended {state}; teardown policy {teardown_policy}")
    if status.error_message:
        print(f"error: {plain(status.error_message, 2000)}")
    if not project:
        return "nothing to remove: no project was given, so nothing was created"
    if not should_clean_up(teardown_policy, state):
        return f"kept resources (policy {teardown_policy}, state {state})"
    return teardown_run_or_raise(project, regions(location, placements), run_label_value(job_resource_name))
