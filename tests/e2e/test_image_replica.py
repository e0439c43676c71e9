"""The image-replica tier: the compiled YAML's steps, run verbatim in a replica of the runtime image.

Every step of these runs executes its compiled ``command`` + ``args`` with Python 3.12 and the packages of
``google-cloud-pipeline-components:2.22.0`` (kfp 2.14.6, aiplatform 1.126.1, protobuf 6.33.0), each in a
fresh container over the replica (``tests/e2e/replica.py``), against the stand-ins with real vLLM. Covered:
the text-only and multimodal deploy pipelines end to end, ``on_failure`` keeping a passing deployment (the
regression: a deploy that succeeded must be reported as a success in the image too), the canary against
that deployment, and the exit handler cleaning up after a failed deploy. Each run prints every step's
start-up overhead (``sh`` + its ``pip install``) in the replica.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.harness import on_stand_ins, run_pipeline, text_config, vision_config
from tests.e2e.replica import ROOT, TIMING, build_layer, replica_dir, replica_problem

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200), pytest.mark.world(reuse_servers=False, replica=True)]

RUNNER = "tests.e2e.replica"
IMAGE = "us-central1-docker.pkg.dev/vllm-vertex-e2e/vllm-vertex/vllm-vertex-steps:gcpc-2.22.0"


@pytest.fixture(scope="module")
def image_layer(tmp_path_factory):
    """What image/Dockerfile adds to GCPC's image, built from its own instructions over the replica."""
    if replica_problem():
        pytest.skip(replica_problem())
    start = time.monotonic()
    layer = build_layer(ROOT / "image" / "Dockerfile", tmp_path_factory.mktemp("image-layer"))
    print(f"\nbuilt image/Dockerfile's layer over the replica in {time.monotonic() - start:.1f} s")
    return layer


def _lock(name: str) -> dict[str, str]:
    lock = {}
    for line in (ROOT / "image" / name).read_text().splitlines():
        if line and not line.startswith("#"):
            package, version = line.split("==")
            lock[package.lower().replace("_", "-").replace(".", "-")] = version
    return lock


def _timings(log: str) -> list[dict]:
    """The steps' timing lines (kfp.local indents task output)."""
    return [json.loads(line.split(TIMING, 1)[1]) for line in log.splitlines() if TIMING in line]


def _report(title: str, log: str) -> list[dict]:
    """Prints each step's start-up overhead in the replica (a benchmark figure, never asserted on)."""
    rows = _timings(log)
    print(f"\n{title}: step start-up in the image replica ({replica_dir().name})")
    for row in rows:
        print(f"  {row['step']:<16} start-up {row['startup_s']:6.2f} s   run {row['run_s']:6.2f} s   "
              f"exit {row['exit']}   installed: {' '.join(row['installed']) or '-'}")
    return rows


# The deploy-and-verify steps every successful run goes through (teardown only under ``always``).
STEPS = {"validate_config", "check_quota", "preflight", "place_and_deploy", "smoke_test", "check_verdict",
         "cleanup_on_exit"}


def _ran_in_replica(rows: list[dict], steps: set[str]) -> None:
    """Each of ``steps`` ran in a replica container and exited 0."""
    ran = {r["step"]: r["exit"] for r in rows}
    assert {s: ran.get(s) for s in steps} == dict.fromkeys(steps, 0), rows


def test_multimodal_pipeline_on_dedicated_endpoint_runs_in_the_image(world):
    """With the quick load probe: its aiohttp client streams image+text requests in the image's Python 3.12."""
    cfg = vision_config("always", dedicated_endpoint=True, probe_profile="quick", probe_slo="max_error_rate=0")
    result = run_pipeline(world, cfg, runner=RUNNER)
    rows = _report("multimodal, dedicated endpoint, quick probe, teardown always", result.log)
    assert result.status == "SUCCESS", result.error or result.log[-4000:]
    _ran_in_replica(rows, STEPS | {"teardown", "probe", "check_probe"})
    report = sorted((world.root / "pipeline-root").rglob("smoke-test/report"))[-1].read_text()
    assert report.count("| pass |") == 4, report
    full = json.loads(sorted((world.root / "pipeline-root").rglob("probe/results"))[-1].read_text())
    probe = full["result"]
    assert full["verdict"] == "passed" and probe["streaming"] and probe["slo"]["passed"], full["summary"]
    for level in probe["levels"]:
        assert level["failed"] == 0 and level["completed"] == level["num_requests"] > 0, level
        assert level["image_requests"] > 0 and level["median_tpot_ms"] is not None, level
    assert world.counts() == (0, 0)


def test_text_deploy_that_succeeds_is_a_success_in_the_image_and_the_canary_passes(world, image_layer):
    """The regression of issue 8: aiplatform 1.126.1 could not parse the finished deploy operation."""
    result = run_pipeline(world, text_config("on_failure"), runner=RUNNER)
    rows = _report("text, teardown on_failure", result.log)
    assert "Invalid enum value" not in result.log
    assert result.status == "SUCCESS", result.error or result.log[-4000:]
    _ran_in_replica(rows, STEPS)
    assert "teardown" not in {r["step"] for r in rows}
    assert world.counts() == (1, 1), "on_failure keeps the deployment that passed"
    assert world.backend.running_servers() == 1

    [endpoint] = world.standin.resources()["endpoints"]
    canary = run_pipeline(world, text_config("on_failure"), runner=RUNNER, canary_endpoint=endpoint,
                          ints_as_floats=True)
    rows = _report("canary (integer parameters sent as floats)", canary.log)
    assert canary.status == "SUCCESS", canary.error or canary.log[-4000:]
    assert "smoke_max_tokens" in {s for r in rows for s in r["whole_floats_sent"]}
    _ran_in_replica(rows, {"read_endpoint", "smoke_test", "check_verdict"})
    assert world.counts() == (1, 1), "the canary creates and deletes nothing"

    # The same canary compiled with --image, on the prebuilt runtime image: nothing installed at run time.
    on_image = run_pipeline(world, text_config("on_failure"), runner=RUNNER, canary_endpoint=endpoint,
                            image=IMAGE, layer=str(image_layer))
    rows = _report("canary compiled with --image, on image/Dockerfile's image", on_image.log)
    assert on_image.status == "SUCCESS", on_image.error or on_image.log[-4000:]
    _ran_in_replica(rows, {"read_endpoint", "smoke_test", "check_verdict"})
    assert [r["installed"] for r in rows] == [[], [], []]
    assert "pip install" not in (world.root / "canary.yaml").read_text()

    from vllm_vertex.cloud.teardown import teardown_run

    [label] = world.run_labels()
    with on_stand_ins(world):
        assert teardown_run("vllm-vertex-e2e", "us-central1", label, log=lambda _: None).clean
    assert world.counts() == (0, 0)


def test_exit_handler_cleans_up_a_failed_deploy_in_the_image(world):
    from tests.e2e.matrix import GENERIC, SEED_OOM

    world.standin.faults.deploy_error(GENERIC, container_log=SEED_OOM)
    try:
        result = run_pipeline(world, text_config("on_failure"), runner=RUNNER, ints_as_floats=True)
    finally:
        world.standin.faults.clear()
    rows = _report("deploy fails (CUDA OOM), exit handler (integer parameters sent as floats)", result.log)
    sent = {r["step"]: set(r["whole_floats_sent"]) for r in rows}
    assert {"accelerator_count", "max_num_seqs", "smoke_max_tokens"} <= sent["validate_config"], sent
    assert result.status == "FAILURE" and result.failed_task == "place-and-deploy", result.log[-4000:]
    assert "out of memory" in result.error.lower(), result.error
    assert "cleanup_on_exit" in {r["step"] for r in rows}
    assert world.counts() == (0, 0), "the exit handler deleted what the failed run created"


def test_staged_weights_and_a_placement_fallback_run_in_the_image(world):
    """Issues 20 and 21 in the image: stage-weights streams the gated tiny model from the fake Hub to the Storage
    stand-in with the image's google-cloud-storage and huggingface_hub, then place-and-deploy finds us-central1 out
    of GPUs, removes what that attempt made, lands in us-east4 from the staged folder (no token in any Model), and
    the smoke tests pass there; teardown leaves nothing in either region."""
    from tests.e2e.harness import TOKEN
    from tests.e2e.matrix import TWO_REGIONS, WEIGHTS_BUCKET, _staging, staged_config

    _staging(world)
    world.standin.faults.stockout(region="us-central1")
    seen = len(world.standin.requests)  # the module's world is shared: earlier runs' requests are there too
    try:
        result = run_pipeline(world, staged_config("always", **TWO_REGIONS), runner=RUNNER)
    finally:
        world.standin.faults.clear()
    rows = _report("staged weights, us-central1 out of GPUs, us-east4 serves, teardown always", result.log)
    assert result.status == "SUCCESS", result.error or result.log[-4000:]
    _ran_in_replica(rows, STEPS | {"stage_weights", "teardown"})
    assert "us-central1" in result.log and "stockout" in result.log
    names = world.standin.storage.names(WEIGHTS_BUCKET)
    assert any(n.endswith("/_COMPLETE") for n in names)
    uploads = [json.loads(body) for _, path, body in world.standin.requests[seen:] if path.split("?")[0].endswith(
        "models:upload")]
    assert [u["model"]["containerSpec"]["env"] for u in uploads if any(
        e["name"] == "HF_TOKEN" for e in u["model"]["containerSpec"].get("env", []))] == []
    assert len(uploads) == 2  # one Model per placement tried: the first removed after the stockout
    assert TOKEN not in result.log
    assert world.counts() == (0, 0)


def test_the_dockerfile_installs_exactly_the_locked_set(image_layer):
    """image/Dockerfile's own instructions, over the replica, install image/runtime-image.lock and nothing else."""
    import subprocess

    from components._runtime import PACKAGES
    from tests.e2e.replica import layer_packages

    lock, base = _lock("runtime-image.lock"), _lock("gcpc-2.22.0-image.lock")
    assert layer_packages(image_layer) == lock
    for pin in PACKAGES.values():  # every step's pinned client is in the image at its pin: the layer's or GCPC's own
        name, version = pin.split("==")
        key = name.lower().replace("_", "-")
        assert lock.get(key, base.get(key)) == version, pin
    env = {"PATH": f"{image_layer}/bin:/usr/bin:/bin",
           **json.loads((image_layer / "image-env.json").read_text())}
    code = ("import vllm_vertex.cloud.vertex, vllm_vertex.cloud.operations, google.cloud.cloudquotas_v1, "
            "google.cloud.secretmanager, openai, huggingface_hub, google.cloud.logging, aiohttp, kfp; "
            "print(vllm_vertex.__file__, kfp.__version__)")
    out = subprocess.run([str(image_layer / "bin" / "python"), "-c", code], env=env, capture_output=True, text=True,
                         cwd=image_layer)
    assert out.returncode == 0, out.stderr
    core, kfp_version = out.stdout.split()
    assert core == str(image_layer.parent / "root" / "opt" / "vllm-vertex" / "vllm_vertex" / "__init__.py")
    assert kfp_version == "2.14.6"
    check = subprocess.run([str(image_layer / "bin" / "python"), "-m", "pip", "check"], env=env,
                           capture_output=True, text=True)
    problems = [ln for ln in check.stdout.splitlines() if ln.strip()]
    # The one known conflict (pip warns about it in every step that installs huggingface_hub, too): kfp pins
    # click==8.1.8 for its own CLI, which no step runs; huggingface_hub 2.x needs a newer click.
    assert problems == [f"kfp 2.14.6 has requirement click==8.1.8, but you have click {lock['click']}."], problems


def test_the_replica_holds_the_locked_image_set():
    """Python 3.12 and exactly the lock file's versions (kfp 2.14.6, aiplatform 1.126.1, protobuf 6.33.0)."""
    import subprocess

    if replica_problem():
        pytest.skip(replica_problem())
    lock = {}
    for line in (ROOT / "image" / "gcpc-2.22.0-image.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version
    code = ("import importlib.metadata as m, json, sys; print(json.dumps([sys.version_info[:2], "
            "{d.metadata['Name'].lower().replace('_', '-'): d.version for d in m.distributions()}]))")
    # cwd outside the repository: `python -c` puts cwd on sys.path, and an editable install's
    # vllm_vertex.egg-info there would count as a distribution of the replica.
    out = subprocess.run([str(replica_dir() / "bin" / "python"), "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}, cwd=replica_dir())
    version, installed = json.loads(out.stdout)
    assert version == [3, 12]
    assert installed == lock
    assert (lock["kfp"], lock["google-cloud-aiplatform"], lock["protobuf"]) == ("2.14.6", "1.126.1", "6.33.0")
