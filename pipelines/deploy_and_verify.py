"""The deploy-and-verify pipeline: validate → quota → preflight → place-and-deploy → smoke → probe → teardown.

The parameters are declared once, as the fields of ``DeploymentConfig``; ``declared`` builds the
signature and the docstring's descriptions from them. They have no Python defaults:
``pipelines.compile_pipeline`` fills them from a preset, so the compiled YAML shows real values
in the console and the preset tables live in one place (``vllm_vertex.recipes``).
"""

from kfp import dsl

from components import (
    check_probe,
    check_quota,
    check_verdict,
    cleanup_on_exit,
    place_and_deploy,
    preflight,
    probe,
    smoke_test,
    stage_weights,
    teardown,
    validate_config,
)
from pipelines.signatures import declared
from vllm_vertex.parameters import PARAMETERS

PIPELINE_NAME = "vllm-deploy-and-verify"


def _side_effect(task: dsl.PipelineTask, name: str) -> dsl.PipelineTask:
    """Display name, and no caching: a cached step would skip creating or deleting."""
    return task.set_display_name(name).set_caching_options(False)


def _teardown_branches(project, location, placements, run_label, teardown_policy, probe_profile, smoke) -> None:
    """``always``: tear down after the smoke tests (after the probe when it is on, see ``_probe_branch``);
    ``on_failure``: only when they failed."""
    with dsl.If(teardown_policy == "always", name="policy-always"):
        with dsl.If(probe_profile == "off", name="probe-off"):
            task = teardown(project=project, location=location, placements=placements, run_label=run_label)
            _side_effect(task.after(smoke), "teardown")
    with dsl.If(teardown_policy == "on_failure", name="policy-on-failure"):
        with dsl.If(smoke.outputs["verdict"] == "failed", name="smoke-failed"):
            task = teardown(project=project, location=location, placements=placements, run_label=run_label)
            _side_effect(task, "teardown-after-failed-smoke")


def _probe_branch(project, location, placements, run_label, teardown_policy, config, endpoint, smoke) -> None:
    """The load probe (it skips itself when the smoke tests failed), its gate, and ``always``'s teardown after it.

    A missed SLO fails the gate after the report is written; the exit handler then removes the
    deployment under ``on_failure``.
    """
    measured = probe(config=config, endpoint=endpoint, smoke_verdict=smoke.outputs["verdict"])
    _side_effect(measured.after(smoke), "probe")
    gate = check_probe(verdict=measured.outputs["verdict"], summary=measured.outputs["summary"])
    _side_effect(gate, "check-probe")
    with dsl.If(teardown_policy == "always", name="policy-always-after-probe"):
        task = teardown(project=project, location=location, placements=placements, run_label=run_label)
        _side_effect(task.after(measured), "teardown-after-probe")


@declared(*(p.name for p in PARAMETERS))
def _deploy_and_verify(**params):
    """Deploys an open LLM to a Vertex AI endpoint with vLLM, smoke-tests it and tears it down."""
    project, location = params["project"], params["location"]
    teardown_policy, probe_profile = params["teardown_policy"], params["probe_profile"]
    cleanup = cleanup_on_exit(
        project=project,
        location=location,
        placements=params["placements"],
        job_resource_name=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER,
        teardown_policy=teardown_policy,
    )
    _side_effect(cleanup, "cleanup-on-exit")
    with dsl.ExitHandler(cleanup, name="deploy-and-verify"):
        validated = validate_config(**params, job_resource_name=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER)
        _side_effect(validated, "validate-config")
        config, run_label = validated.outputs["config"], validated.outputs["run_label"]
        quota = _side_effect(check_quota(config=config), "check-quota")
        checked = preflight(config=config)
        _side_effect(checked.after(quota), "preflight")
        staged = _side_effect(stage_weights(config=config).after(checked), "stage-weights")
        # One step walks the placements (a DAG cannot loop): upload, endpoint and deploy per placement, all
        # after stage-weights, so a failed staging leaves nothing to clean up.
        deployed = place_and_deploy(config=config, run_label=run_label, weights_uri=staged.outputs["Output"])
        _side_effect(deployed, "place-and-deploy")
        endpoint = deployed
        smoke = smoke_test(config=config, endpoint=endpoint.outputs["endpoint"], attempts=deployed.outputs["attempts"])
        _side_effect(smoke.after(deployed), "smoke-test")
        _teardown_branches(project, location, params["placements"], run_label, teardown_policy, probe_profile, smoke)
        with dsl.If(probe_profile != "off", name="probe-on"):
            where = (project, location, params["placements"], run_label, teardown_policy)
            _probe_branch(*where, config, endpoint.outputs["endpoint"], smoke)
        gate = check_verdict(
            verdict=smoke.outputs["verdict"], passed=smoke.outputs["passed"], failed=smoke.outputs["failed"],
            failures=smoke.outputs["failures"],
        )
        _side_effect(gate, "check-verdict")


deploy_and_verify = dsl.pipeline(name=PIPELINE_NAME)(_deploy_and_verify)
