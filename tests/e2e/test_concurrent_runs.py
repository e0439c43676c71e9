"""Two runs at once whose job IDs collided under the old run-label rule: each cleanup removes only its own.

The two cases of issue #11, as the compiled pipeline runs them under kfp.local against the stand-in
with real vLLM (kfp.local resolves the job's resource name to the one the test gives, as Vertex
would): run B keeps its deployment (``never``) while run A, started once B's resources exist,
tears its own down (``always``: the teardown step, then the exit handler). B's endpoint, model and
deployed model must survive both; then B's exit handler removes B's and nothing else is left.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.harness import (
    World,
    _wait,
    exit_handler_after_cancel,
    job_resource_name,
    run_pipeline,
    text_config,
)
from tests.test_cleanup_safety import old_rule
from vllm_vertex.naming import run_label_value

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200), pytest.mark.world(reuse_servers=True, models=("tiny-llama",))]

LONG_ID = "vllm-deploy-and-verify-" + "a" * 39 + "-20261127143000"  # 77 characters
SAME_ID = "vllm-deploy-and-verify-20261127143000"  # the SDK's default job ID, second resolution
CASES = {
    "77-char job ID vs the 63-char job ID equal to its old label": (
        job_resource_name(LONG_ID), job_resource_name(old_rule(LONG_ID))),
    "same job ID from two pipeline projects and regions": (
        job_resource_name(SAME_ID, "team-a", "us-central1"), job_resource_name(SAME_ID, "team-b", "europe-west4")),
}


def _of(world: World, label: str) -> dict:
    res = world.standin.resources()
    endpoints = {n for n, r in res["endpoints"].items() if r["labels"].get("vllm-vertex-run") == label}
    models = {n for n, r in res["models"].items() if r["labels"].get("vllm-vertex-run") == label}
    return {"endpoints": endpoints, "models": models}


@pytest.mark.parametrize("case", list(CASES))
def test_concurrent_colliding_runs_each_clean_only_their_own(world, case):
    job_a, job_b = CASES[case]
    assert old_rule(job_a.rsplit("/", 1)[-1]) == old_rule(job_b.rsplit("/", 1)[-1]), "the case collided before"
    label_a, label_b = run_label_value(job_a), run_label_value(job_b)
    assert label_a != label_b
    world.reset()
    with ThreadPoolExecutor(max_workers=2) as pool:
        run_b = pool.submit(run_pipeline, world, text_config("never"), job_name=job_b)
        assert _wait(lambda: _of(world, label_b)["endpoints"] and _of(world, label_b)["models"], 300), \
            "run B created nothing"
        run_a = pool.submit(run_pipeline, world, text_config("always"), job_name=job_a)
        result_a, result_b = run_a.result(), run_b.result()
    assert result_b.status == "SUCCESS", result_b.error or result_b.log[-3000:]
    assert result_a.status == "SUCCESS", result_a.error or result_a.log[-3000:]
    assert f"run {label_a}: 1 endpoint(s), 1 model(s) to remove" in result_a.log  # A's teardown saw only A's

    kept = _of(world, label_b)
    assert len(kept["endpoints"]) == 1 and len(kept["models"]) == 1, "run A's cleanup touched run B"
    assert _of(world, label_a) == {"endpoints": set(), "models": set()}
    deployed = world.standin.resources()["deployedModels"].values()
    assert [d["endpoint"] for d in deployed] == list(kept["endpoints"]), "B's deployment still serves"

    out = exit_handler_after_cancel(world, text_config("always"), job_b)  # B's exit handler, after a cancel
    assert all(name in out for name in kept["endpoints"] | kept["models"])
    assert world.counts() == (0, 0)
