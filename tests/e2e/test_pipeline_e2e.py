"""The compiled pipeline's components, end to end under kfp.local, against the stand-ins and real vLLM.

Each deploy starts a real vLLM server (undeploy stops it): the text-only configuration on a
shared endpoint and the multimodal one on a dedicated endpoint, through every smoke check and
teardown. Also: the HF token never shows in compiled YAML, parameters, logs or artifacts, and a
configuration that cannot fit fails at preflight with nothing created.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import TOKEN, World, on_stand_ins, run_pipeline, text_config, vision_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.world(reuse_servers=False)]


def _smoke_outputs(world: World) -> tuple[dict, str]:
    root = world.root / "pipeline-root"
    metrics = json.loads(sorted(root.rglob("smoke-test/executor_output.json"))[-1].read_text())
    report = sorted(root.rglob("smoke-test/report"))[-1].read_text()
    return metrics, report


def test_text_only_run_deploys_checks_and_tears_down_without_leaking_the_token(world, tmp_path):
    import compile as compile_script

    result = run_pipeline(world, text_config("always"))
    assert result.status == "SUCCESS", result.error or result.log[-3000:]
    assert world.counts() == (0, 0)
    assert world.backend.running_servers() == 0, "undeploy stops the vLLM server"
    assert len(world.backend.startup_seconds) >= 1
    _, report = _smoke_outputs(world)
    assert "Smoke tests: PASSED" in report
    assert "| text_predict | :predict | pass |" in report and "| chat_text | chat/completions | pass |" in report

    # The planted HF token: nowhere in compiled YAML, parameters, logs or artifacts.
    assert compile_script.main(["--out", str(tmp_path)]) == 0
    places = {"run log (task logs; executor inputs = parameters)": result.log}
    places.update({f"compiled {p.name}": p.read_text() for p in tmp_path.glob("*.yaml")})
    for path in (world.root / "pipeline-root").rglob("*"):
        if path.is_file():
            places[f"artifact {path.relative_to(world.root)}"] = path.read_text(errors="replace")
    leaked = [where for where, text in places.items() if TOKEN in text]
    assert not leaked, f"token found in: {leaked}"
    artifacts = [w for w in places if w.startswith("artifact")]
    assert len(artifacts) >= 10, artifacts  # every step's outputs were searched
    # The one request that carries it: the Model upload (the container's HF_TOKEN env).
    carrying = [path.split("?")[0] for method, path, body in world.standin.requests if TOKEN in body]
    assert carrying and all(p.endswith("models:upload") for p in carrying)


def test_multimodal_run_on_dedicated_endpoint(world):
    result = run_pipeline(world, vision_config("always", dedicated_endpoint=True))
    assert result.status == "SUCCESS", result.error or result.log[-3000:]
    assert world.counts() == (0, 0)
    _, report = _smoke_outputs(world)
    for check in ("text_predict", "image_predict", "chat_text", "chat_image"):
        assert f"| {check} |" in report and f"| {check} | " in report
    assert report.count("| pass |") == 4
    assert "![image sent to the model](data:image/png;base64," in report
    dedicated = [p for m, p, b in world.standin.requests if "chat/completions" in p]
    assert dedicated, "chat went through the stand-in"


def test_on_failure_keeps_a_passing_deployment_serving(world):
    result = run_pipeline(world, text_config("on_failure"))
    assert result.status == "SUCCESS"
    assert world.counts() == (1, 1)
    assert world.backend.running_servers() == 1
    from vllm_vertex.cloud.teardown import teardown_run

    [label] = world.run_labels()
    with on_stand_ins(world):
        assert teardown_run("vllm-vertex-e2e", "us-central1", label, log=lambda _: None).clean
    assert world.counts() == (0, 0) and world.backend.running_servers() == 0


def test_config_that_cannot_fit_fails_at_preflight_with_nothing_created(world):
    before = len(world.standin.requests)
    seed = vision_config("always", model_id="meta-llama/Llama-3.2-11B-Vision-Instruct", max_num_seqs=256)
    result = run_pipeline(world, seed)
    assert result.status == "FAILURE" and result.failed_task == "preflight"
    assert "preflight predicts the deploy would fail" in result.error
    assert "[multimodal_profile_risk]" in result.error and "max_num_seqs to" in result.error
    created = [p for m, p, b in world.standin.requests[before:] if m == "POST" and ("upload" in p or "endpoints" in p)]
    assert created == [] and world.counts() == (0, 0)
