"""The fault matrix: one injected fault per run, each under every teardown policy.

``python -m tests.e2e.matrix`` (``make matrix``) prints one row per fault and policy — the outcome,
the error the user sees and the resources left in the stand-in — then the wall time, and ends
with ``N passed, M failed``. ``tests/e2e/test_fault_matrix.py`` runs the same rows under pytest.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.backend import RealVllmBackend
from tests.e2e.harness import (
    PROJECT,
    RunResult,
    World,
    job_resource_name,
    on_stand_ins,
    real_backend,
    run_pipeline,
    text_config,
    vision_config,
)
from tests.test_cleanup_safety import old_rule
from vllm_vertex.cloud.teardown import teardown_regions
from vllm_vertex.placements import regions

POLICIES = ("always", "on_failure", "never")

# The four failures of the seed's "Debugging common issues", as the container logs them.
SEED_OOM = (
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 3.91 GiB. GPU 0 has a total capacity of "
    "39.38 GiB of which 3.76 GiB is free. Of the allocated memory 34.94 GiB is allocated by PyTorch"
)
SEED_GATED = (
    "OSError: You are trying to access a gated repo. Make sure to have access to it at "
    "https://huggingface.co/meta-llama/Llama-3.2-11B-Vision. 401 Client Error. Cannot access gated repo for url "
    "https://huggingface.co/meta-llama/Llama-3.2-11B-Vision/resolve/main/config.json."
)
SEED_CHAT = (
    "ValueError: Cannot use apply_chat_template() because tokenizer.chat_template is not set and no template "
    "argument was passed! As of transformers v4.44, default chat template is no longer allowed, so you must "
    "provide a chat template if the tokenizer does not define one."
)
# What Vertex itself says when the container dies: the cause is only in the container's log.
GENERIC = (
    "Model server never became ready. Please validate that your model file or container configuration are "
    "valid. Model server logs can be found at https://console.cloud.google.com/logs/query"
)
SEED_KV = (
    "ValueError: The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in "
    "KV cache (2256). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the "
    "engine."
)


@dataclass(frozen=True)
class Fault:
    """One row of the matrix.

    Attributes:
        name: Row label.
        inject: Sets the fault up in the world before the run.
        passes: The run is expected to pass (transient faults are retried).
        failed_task: The step expected to fail ("" when the run passes or is cancelled).
        says: Text the error the user sees must contain (the root cause).
        creates: (endpoints, models) the run creates before the fault stops it.
        action: "" | "crash" | "cancel" (done while the deploy runs).
        config: Builds the run's configuration for a policy.
        overrides: Config fields for this row.
        job_id: The run's pipeline job ID ("" for a fresh one).
        other_run: Job resource name of another run whose deployment ``inject`` plants; it must be
            left whole (endpoint, model, deployed model) and is not counted in "left".
        leaves: (endpoints, models) left when cleanup runs but cannot remove everything.
        log_says: Text the run's log must contain when cleanup runs (not under ``never``).
        log_lacks: Text the run's log must not contain.
    """

    name: str
    inject: Callable[[World], None] = lambda w: None
    passes: bool = False
    failed_task: str = ""
    says: str = ""
    creates: tuple[int, int] = (1, 1)
    action: str = ""
    config: Callable[..., object] = text_config
    overrides: dict = field(default_factory=dict)
    job_id: str = ""
    other_run: str = ""
    leaves: tuple[int, int] = (0, 0)
    log_says: str = ""
    log_lacks: str = ""

    def expected_left(self, policy: str, outcome: str) -> tuple[int, int]:
        """``leaves`` for always and on_failure unless the run passed (on_failure keeps a passing deployment)."""
        if policy == "never" or (policy == "on_failure" and outcome == "SUCCESS"):
            return self.creates
        return self.leaves


def _quota(w: World) -> None:
    w.standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0)


# Two job IDs whose run labels collided under the old rule (the sanitised job ID, or past 63
# characters its tail plus a hash): a 77-character ID, and the valid 63-character ID equal to that label.
COLLIDING_ID = "vllm-deploy-and-verify-" + "a" * 39 + "-20261127143000"
COLLIDED_ID = old_rule(COLLIDING_ID)
OTHER_RUN = job_resource_name(COLLIDED_ID)
STOCKOUT = "Machine type temporarily unavailable, please deploy with a different machine type or retry."


def _other_run_deployed(w: World) -> None:
    """Another run's live deployment (endpoint, model, deployed model), labelled as that run's pipeline labels it."""
    from vllm_vertex.cloud import vertex
    from vllm_vertex.naming import run_label_value

    cfg, label = text_config("never"), run_label_value(OTHER_RUN)
    with on_stand_ins(w):
        model = vertex.upload_model(cfg, label, None)
        endpoint = vertex.create_endpoint(cfg, label)
        vertex.deploy_model(cfg, model, endpoint.name, label, log=lambda _: None)
    w.standin.faults.predict_output("")  # the run under test then fails its smoke checks: its cleanup runs


def _delete_forbidden(w: World) -> None:
    w.standin.faults.deploy_error(GENERIC, container_log=SEED_OOM)
    w.standin.faults.add("delete_endpoint", status=403, times=None,
                         message="Permission 'aiplatform.endpoints.delete' denied on resource (or it may not exist).")


WEIGHTS_BUCKET = "e2e-weights"


def _staging(w: World, grant: bool = True, bucket: bool = True, hub_status: int = 0) -> None:
    """Staging on (see ``staged_config``): the tiny model's whole folder on the Hub, the bucket, and the fault."""
    from tests.e2e.harness import TINY_TEXT

    folder = w.backend.models[TINY_TEXT]
    w.hub.repos[TINY_TEXT].files.update({p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()})
    w.hub.faults[:] = [[f"/{TINY_TEXT}/resolve/*/*.safetensors", hub_status, 10**6]] if hub_status else []
    cloud = w.standin.cloud
    cloud.add_project(PROJECT)
    with cloud.lock:
        cloud.buckets.pop(WEIGHTS_BUCKET, None)
        cloud.policies.pop(f"buckets/{WEIGHTS_BUCKET}", None)
    if bucket:
        cloud.add_bucket(PROJECT, WEIGHTS_BUCKET)
    if grant:
        cloud.grant(f"buckets/{WEIGHTS_BUCKET}", cloud.caller, "roles/storage.objectUser")


def staged_config(policy: str = "on_failure", **overrides):
    """The text configuration with ``stage_weights_to`` set."""
    return text_config(policy, stage_weights_to=f"gs://{WEIGHTS_BUCKET}/hf", **overrides)


FAULTS: list[Fault] = [
    Fault("quota below need", _quota, failed_task="check-quota", creates=(0, 0),
          says="CustomModelServingL4GPUsPerProjectPerRegion in us-central1: need 1"),
    # place-and-deploy uploads before it creates the endpoint: a refused upload leaves nothing, even under never
    Fault("upload 500", lambda w: w.standin.faults.add("upload", status=500), failed_task="place-and-deploy",
          says="500", creates=(0, 0)),
    Fault("endpoint create 429 then ok", lambda w: w.standin.faults.add("create_endpoint", status=429), passes=True),
    Fault("deploy error: CUDA OOM", lambda w: w.standin.faults.deploy_error(GENERIC, container_log=SEED_OOM), failed_task="place-and-deploy",
          says="lower max_num_seqs"),
    Fault("deploy error: gated repo", lambda w: w.standin.faults.deploy_error(GENERIC, container_log=SEED_GATED), failed_task="place-and-deploy",
          says="accept the model's license"),
    Fault("deploy error: no chat template", lambda w: w.standin.faults.deploy_error(GENERIC, container_log=SEED_CHAT),
          failed_task="place-and-deploy", says="set chat_template"),
    Fault("deploy error: max seq len > KV cache", lambda w: w.standin.faults.deploy_error(GENERIC, container_log=SEED_KV),
          failed_task="place-and-deploy", says="lower max_model_len"),
    Fault("deploy never finishes", lambda w: w.standin.faults.deploy_hang(), failed_task="place-and-deploy",
          says="did not finish within 10 s", overrides={"deploy_timeout_seconds": 10}),
    Fault("predict 503 ×3 then ok", lambda w: w.standin.faults.add("predict", status=503, times=3), passes=True),
    Fault("predict empty output", lambda w: w.standin.faults.predict_output(""), failed_task="check-verdict",
          says="smoke tests failed"),
    Fault("chat completions 500", lambda w: w.standin.faults.add("chat", status=500, times=None),
          failed_task="check-verdict", says="smoke tests failed"),
    Fault("image check fails", failed_task="check-verdict", says="smoke tests failed", config=vision_config,
          overrides={"model_id": "vllm-vertex-tests/tiny-llama"}),
    Fault("deploy step crashes", lambda w: w.standin.faults.deploy_hang(), failed_task="place-and-deploy",
          says="Inner task failed: 'place-and-deploy'", action="crash"),
    Fault("cancel during deploy", lambda w: w.standin.faults.deploy_hang(), action="cancel"),
    Fault("job ID colliding with a live run's", _other_run_deployed, failed_task="check-verdict",
          says="smoke tests failed: text_predict, chat_text failed", job_id=COLLIDING_ID, other_run=OTHER_RUN),
    Fault("permanent 403 on endpoint delete", _delete_forbidden, failed_task="place-and-deploy", says="lower max_num_seqs",
          leaves=(1, 0), log_says="lacks aiplatform.endpoints.delete", log_lacks="trying again"),
    Fault("deploy stockout (RESOURCE_EXHAUSTED)", lambda w: w.standin.faults.deploy_error(STOCKOUT, code=8),
          failed_task="place-and-deploy", says="Quota was not the cause"),
    # staging (#20): nothing is created before the weights are staged, so every policy leaves nothing
    Fault("staging: Hub 5xx on the weights", lambda w: _staging(w, hub_status=503), failed_task="stage-weights",
          says="the Hugging Face Hub failed while copying files", creates=(0, 0), config=staged_config),
    Fault("staging: bucket 403", lambda w: _staging(w, grant=False), failed_task="stage-weights",
          says="Cloud Storage refused to write gs://e2e-weights", creates=(0, 0), config=staged_config),
    Fault("staging: bucket missing", lambda w: _staging(w, bucket=False), failed_task="stage-weights",
          says="the bucket gs://e2e-weights does not exist", creates=(0, 0), config=staged_config),
]


# Placements (issue 21): two or three regions; "left" counts every region of the stand-in.
TWO_REGIONS = {"placements": [{"region": "us-central1"}, {"region": "us-east4"}]}
THREE_REGIONS = {"placements": [{"region": "us-central1"}, {"region": "us-east4"}, {"region": "europe-west4"}]}
MISSING_RESERVATION = "projects/vllm-vertex-e2e/zones/us-central1-a/reservations/missing"


def _first_region_out(w: World) -> None:
    w.standin.faults.stockout(region="us-central1")


def _cancel_in_second(w: World) -> None:
    w.standin.faults.stockout(region="us-central1")
    w.standin.faults.deploy_hang()  # the first deploy that finds GPUs: the second placement's


def _first_region_no_quota(w: World) -> None:
    w.standin.set_quota("CustomModelServingL4GPUsPerProjectPerRegion", 0, region="us-central1")


def _no_such_reservation(w: World) -> None:
    # What Vertex answers for a reservation that does not exist is not documented: a 400 at the deploy request,
    # as for any bad machine spec. A permanent error either way: the walk stops there.
    w.standin.faults.add("deploy", status=400, times=1, message=f"Reservation {MISSING_RESERVATION} was not found.")


def _forbidden_in_second(w: World) -> None:
    w.standin.faults.stockout(region="us-central1")
    w.standin.faults.add("create_endpoint", status=403, times=1, every=2,
                         message="Permission 'aiplatform.endpoints.create' denied on resource (or it may not exist).")


PLACEMENT_FAULTS: list[Fault] = [
    Fault("placements: stockout in the first region, the second serves", _first_region_out, passes=True,
          overrides=TWO_REGIONS, log_says="1. us-central1 g2-standard-12 1× NVIDIA_L4: stockout"),
    Fault("placements: stockouts everywhere", lambda w: w.standin.faults.stockout(), failed_task="place-and-deploy",
          says="No placement had GPUs", creates=(0, 0), overrides=THREE_REGIONS,
          log_says="- 3. europe-west4 g2-standard-12 1× NVIDIA_L4: stockout"),
    Fault("placements: cancel during the second attempt", _cancel_in_second, action="cancel:us-east4",
          overrides=TWO_REGIONS),
    Fault("placements: first skipped up front for quota", _first_region_no_quota, passes=True, overrides=TWO_REGIONS,
          log_says="1. us-central1 g2-standard-12 1× NVIDIA_L4: skipped after 0.0 min (nothing created): quota"),
    Fault("placements: a reservation that does not exist", _no_such_reservation, failed_task="place-and-deploy",
          says="Stopped at a permanent error", creates=(1, 1),
          overrides={"placements": [{"reservation": MISSING_RESERVATION}, {"region": "us-east4"}]}),
    Fault("placements: permanent 403 in the middle", _forbidden_in_second, failed_task="place-and-deploy",
          says="the remaining placements were not tried", creates=(0, 1), overrides=THREE_REGIONS),
]
FAULTS += PLACEMENT_FAULTS


@dataclass
class Row:
    """One fault under one policy: what happened, and whether it was what we expect."""

    fault: Fault
    policy: str
    result: RunResult
    left: tuple[int, int]
    problems: list[str]

    @property
    def passed(self) -> bool:
        """The row met every expectation."""
        return not self.problems


def judge(fault: Fault, policy: str, result: RunResult, left: tuple[int, int]) -> list[str]:
    """Every way the run differs from the row's expectation."""
    problems = []
    expected_status = "SUCCESS" if fault.passes else ("CANCELLED" if fault.action.startswith("cancel") else "FAILURE")
    if result.status != expected_status:
        problems.append(f"outcome {result.status}, expected {expected_status}")
    if fault.failed_task and result.failed_task != fault.failed_task:
        problems.append(f"failed at {result.failed_task or 'nothing'}, expected {fault.failed_task}")
    if fault.says and fault.says not in result.error:
        problems.append(f"error does not say {fault.says!r}")
    if left != fault.expected_left(policy, result.status):
        problems.append(f"left {left}, expected {fault.expected_left(policy, result.status)}")
    if fault.log_says and policy != "never" and fault.log_says not in result.log:
        problems.append(f"log does not say {fault.log_says!r}")
    if fault.log_lacks and fault.log_lacks in result.log:
        problems.append(f"log says {fault.log_lacks!r}")
    return problems


def _other_run_intact(world: World, job_name: str) -> tuple[list[str], tuple[int, int]]:
    """Problems with the other run's deployment (it must be whole), and how much of it there is."""
    from vllm_vertex.naming import run_label_value

    label, res = run_label_value(job_name), world.standin.resources()
    endpoints = [n for n, r in res["endpoints"].items() if r["labels"].get("vllm-vertex-run") == label]
    models = [n for n, r in res["models"].items() if r["labels"].get("vllm-vertex-run") == label]
    serving = [d for d in res["deployedModels"].values() if d["endpoint"] in endpoints and d["state"] == "deployed"]
    if (len(endpoints), len(models), len(serving)) == (1, 1, 1):
        return [], (1, 1)
    return [f"the other run's deployment was touched: {len(endpoints)} endpoint(s), {len(models)} model(s), "
            f"{len(serving)} serving"], (len(endpoints), len(models))


def run_row(world: World, fault: Fault, policy: str) -> Row:
    """Runs one fault under one policy; removes what it left afterwards so rows stay independent."""
    world.reset()
    fault.inject(world)
    job_name = job_resource_name(fault.job_id) if fault.job_id else ""
    cfg = fault.config(policy, **fault.overrides)
    result = run_pipeline(world, cfg, action=fault.action, job_name=job_name)
    left, other = world.counts(), ([], (0, 0))
    if fault.other_run:
        other = _other_run_intact(world, fault.other_run)
        left = (left[0] - other[1][0], left[1] - other[1][1])
    world.standin.faults.clear()
    with on_stand_ins(world):
        for label in world.run_labels():
            teardown_regions(PROJECT, regions("us-central1", cfg.placements), label, log=lambda _: None,
                             wait_seconds=30)
    return Row(fault, policy, result, left, judge(fault, policy, result, left) + other[0])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_line(text: str) -> str:
    """The error's class (without its module), its first line, and the root cause, on one line."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    kind, sep, rest = lines[0].partition(": ")
    if sep and kind.replace(".", "").replace("_", "").isalnum():  # module.path.ErrorClass: message
        lines[0] = kind.rsplit(".", 1)[-1] + sep + rest
    cause = next((ln for ln in lines[1:] if ln.startswith(("Root cause:", "- "))), "")
    detail = cause.split(" Fix:")[0] if cause else (lines[1] if len(lines) > 1 else "")
    return " / ".join(p for p in (_clip(lines[0], 80), _clip(detail, 110)) if p)


def format_table(rows: list[Row]) -> str:
    """The matrix as a Markdown table."""
    out = ["| fault | policy | outcome | failed step | error the user sees | left (endpoints, models) | check |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        check = "ok" if r.passed else "FAIL: " + "; ".join(r.problems)
        error = _first_line(r.result.error).replace("|", "\\|")
        out.append(f"| {r.fault.name} | {r.policy} | {r.result.status} | {r.result.failed_task or '-'} | {error} | "
                   f"{r.left[0]}, {r.left[1]} | {check} |")
    return "\n".join(out)


def run_matrix(
    backend: RealVllmBackend, root: Path, faults: list[Fault] = FAULTS, workers: int = 2,
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Every fault under every policy; ``workers`` worlds (own stand-ins, one shared vLLM) run rows side by side."""
    jobs = [(f, p) for f in faults for p in POLICIES]
    queues = [jobs[i::workers] for i in range(workers)]

    def work(index: int) -> list[Row]:
        done = []
        with World(backend, root / f"world-{index}") as world:
            for fault, policy in queues[index]:
                row = run_row(world, fault, policy)
                log(f"{fault.name} / {policy}: {row.result.status} in {row.result.seconds:.1f}s, left {row.left}"
                    f"{'' if row.passed else ' — ' + '; '.join(row.problems)}")
                done.append(row)
        return done

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = [row for rows in pool.map(work, range(workers)) for row in rows]
    order = {(f.name, p): i for i, (f, p) in enumerate(jobs)}
    return sorted(results, key=lambda r: order[(r.fault.name, r.policy)])


def main() -> int:
    """Runs the matrix and prints the table, the wall time and ``N passed, M failed``."""
    start = time.monotonic()
    backend = real_backend(reuse_servers=True)
    try:
        with tempfile.TemporaryDirectory(prefix="vllm-vertex-e2e-") as tmp:
            rows = run_matrix(backend, Path(tmp))
    finally:
        backend.close()
    vllm_start = backend.startup_seconds
    print()
    print(format_table(rows))
    print()
    print(f"vLLM server start: {', '.join(f'{s:.1f}s' for s in vllm_start)}")
    print(f"wall time: {time.monotonic() - start:.0f}s for {len(rows)} runs")
    failed = sum(not r.passed for r in rows)
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
