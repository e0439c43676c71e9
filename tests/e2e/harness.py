"""The offline world for end-to-end runs, and one pipeline run under ``kfp.local`` in it.

``World``: the Vertex AI stand-in (with real vLLM behind it), a Hugging Face Hub stand-in that
serves the tiny models' configs (gated, with the token planted in Secret Manager), and quotas.
``run_pipeline``: the compiled pipeline's real components, run by kfp.local in a subprocess, with
optional mid-run actions: ``crash`` kills the deploy step's process, ``cancel`` kills the whole
run and then runs the exit handler as Vertex does on a cancel (kfp.local cannot cancel a run).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.backend import RealVllmBackend
from tests.e2e.run_local import user_error
from tests.e2e.vllm_server import tiny_model_dir
from tests.fakes.hf_hub import FakeHub
from tests.standin import VertexStandin
from vllm_vertex import planner
from vllm_vertex.config import DeploymentConfig, from_preset
from vllm_vertex.recipes import PRESETS

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "vllm-vertex-e2e"
TOKEN = "hf_e2e_PLANTED_token_do_not_leak_7f3a9c"
SECRET = f"projects/{PROJECT}/secrets/hf-token/versions/latest"
TINY_TEXT = "vllm-vertex-tests/tiny-llama"
TINY_VISION = "vllm-vertex-tests/tiny-llava"
TINY_CONTEXT = 2048  # the tiny models' max_position_embeddings: preflight refuses a longer max_model_len
QUOTAS = {
    "CustomModelServingL4GPUsPerProjectPerRegion": 8,
    "CustomModelServingA100GPUsPerProjectPerRegion": 2,
    "CustomModelServingCPUsPerProjectPerRegion": 200,
}


def png_data_url(size: int = 32) -> str:
    """A small RGB PNG (a colour gradient) as a data URL, made with the standard library."""
    raw = b"".join(b"\x00" + b"".join(bytes((x * 8 % 256, y * 8 % 256, 128)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _hub_files(model_dir: Path) -> dict[str, bytes]:
    names = ("config.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja")
    return {n: (model_dir / n).read_bytes() for n in names if (model_dir / n).exists()}


def real_backend(reuse_servers: bool) -> RealVllmBackend:
    """Real vLLM for the tiny models; ``close()`` it when done."""
    models = {TINY_TEXT: tiny_model_dir("tiny-llama"), TINY_VISION: tiny_model_dir("tiny-llava")}
    return RealVllmBackend(models, reuse=reuse_servers)


class _Shared:
    """The backend as one stand-in sees it: stopping the stand-in does not close a shared backend."""

    def __init__(self, backend: RealVllmBackend) -> None:
        self.start, self.stop = backend.start, backend.stop


class World:
    """Stand-ins for Vertex AI, Cloud Quotas, Secret Manager and the Hub, with real vLLM serving."""

    def __init__(self, backend: RealVllmBackend, root: Path) -> None:
        self.backend = backend
        self.standin = VertexStandin(_Shared(backend), health_timeout=300)
        backend.storage = self.standin.storage  # staged weights (gs://) are served from this world's bucket
        self.hub = FakeHub()
        for model_id, folder in backend.models.items():
            self.hub.add(model_id, _hub_files(folder), gated="manual", allowed_tokens={TOKEN})
        for recipe in PRESETS.values():  # the real seed models' configs, for preflight verdicts
            files = {"config.json": planner.shipped_config(recipe.model_id), "tokenizer_config.json": {}}
            if recipe.instruct:
                files["tokenizer_config.json"] = {"chat_template": "{{ messages }}"}
            self.hub.add(recipe.model_id, files, gated="manual", allowed_tokens={TOKEN})
        self.root = root

    def __enter__(self) -> World:
        self.standin.start()
        self.hub.__enter__()
        self.reset()
        return self

    def __exit__(self, *exc) -> None:
        self.hub.__exit__(*exc)
        self.standin.stop()  # stops this world's containers; the backend's owner closes vLLM

    def reset(self) -> None:
        """No faults, default quotas, the token in Secret Manager."""
        self.standin.faults.clear()
        with self.standin.state.lock:
            self.standin.state.quotas.clear()
        for quota_id, value in QUOTAS.items():
            self.standin.set_quota(quota_id, value)
        self.standin.add_secret(f"projects/{PROJECT}/secrets/hf-token", TOKEN)

    def counts(self) -> tuple[int, int]:
        """(endpoints, models) alive in the stand-in."""
        res = self.standin.resources()
        return len(res["endpoints"]), len(res["models"])

    def run_labels(self) -> set[str]:
        """Run labels of every live resource."""
        res = self.standin.resources()
        return {r["labels"].get("vllm-vertex-run", "") for kind in ("endpoints", "models") for r in res[kind].values()}

    def deploying(self, region: str = "") -> bool:
        """A deploy is in flight (in ``region``, when given)."""
        where = f"/locations/{region}/" if region else "/locations/"
        return any(d["state"] == "deploying" and where in d["endpoint"]
                   for d in self.standin.resources()["deployedModels"].values())


def text_config(policy: str = "on_failure", **overrides) -> DeploymentConfig:
    """The text-only configuration (Llama 3.1 8B Instruct preset) serving the tiny text model."""
    fields = dict(project=PROJECT, model_id=TINY_TEXT, hf_token_secret=SECRET, teardown_policy=policy,
                  smoke_max_tokens=8, deploy_timeout_seconds=600, max_model_len=TINY_CONTEXT)
    return from_preset("llama-3.1-8b-instruct", **{**fields, **overrides})


def vision_config(policy: str = "on_failure", **overrides) -> DeploymentConfig:
    """The multimodal configuration (Llama 3.2 11B Vision Instruct preset) serving the tiny LLaVA."""
    fields = dict(project=PROJECT, model_id=TINY_VISION, hf_token_secret=SECRET, teardown_policy=policy,
                  smoke_max_tokens=8, deploy_timeout_seconds=600, smoke_image_url=png_data_url(),
                  max_model_len=TINY_CONTEXT)
    return from_preset("llama-3.2-11b-vision-instruct", **{**fields, **overrides})


@dataclass
class RunResult:
    """How one run ended and what the user was told."""

    status: str  # SUCCESS | FAILURE | CANCELLED
    failed_task: str
    error: str
    log: str
    seconds: float


def _kill_deploy_step(run_pid: int) -> bool:
    """SIGKILLs the place-and-deploy step of the run (its ``sh`` wrapper and the Python executor under it)."""
    killed = False
    for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int, reverse=True):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"--function_to_execute place_and_deploy" in cmdline and os.getpgid(int(pid)) == run_pid:
                os.kill(int(pid), signal.SIGKILL)
                killed = True
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return killed


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def job_resource_name(job_id: str = "", project: str = PROJECT, region: str = "us-central1") -> str:
    """The name Vertex gives a pipeline job, ``projects/P/locations/L/pipelineJobs/ID``; a fresh ID by default
    (KFP's ``<pipeline>-<timestamp>`` form, plus a random tail so that parallel runs differ)."""
    job_id = job_id or time.strftime("vllm-deploy-and-verify-%Y%m%d%H%M%S-") + uuid.uuid4().hex[:8]
    return f"projects/{project}/locations/{region}/pipelineJobs/{job_id}"


def stand_in_env(world: World) -> dict[str, str]:
    """This process's environment with the world's stand-ins as the override (``vllm_vertex.cloud.context``).

    kfp.local starts each step with its runner's environment, and the image replica passes it on too.
    """
    from vllm_vertex.cloud.context import API_ENDPOINT_ENV, HF_ENDPOINT_ENV

    return {**os.environ, API_ENDPOINT_ENV: world.standin.url, HF_ENDPOINT_ENV: world.hub.url}


def on_stand_ins(world: World):
    """A block in which this thread's Google and Hub clients reach the world's stand-ins (other threads: their own)."""
    from vllm_vertex.cloud.context import CloudContext, using

    return using(CloudContext(api_endpoint=world.standin.url, hf_endpoint=world.hub.url))


def run_pipeline(
    world: World, cfg: DeploymentConfig, action: str = "", timeout: float = 900, job_name: str = "",
    runner: str = "tests.e2e.run_local", **request_extra,
) -> RunResult:
    """Runs the pipeline once; ``action`` is "", "crash" or "cancel" (done while the deploy runs; "cancel:REGION":
    while a deploy runs in that region, e.g. a fallback placement's).

    ``job_name``: the job's resource name the run label derives from (default: a fresh one). ``runner`` is
    the module that runs it (``tests.e2e.replica``: in the image replica), ``request_extra`` more of its
    request (e.g. ``canary_endpoint``).
    """
    job_name = job_name or job_resource_name()
    request = {"config": dataclasses.asdict(cfg), "pipeline_root": str(world.root / "pipeline-root"), "job_resource_name": job_name, **request_extra}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", runner, json.dumps(request)], cwd=ROOT, env=stand_in_env(world),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    status = ""
    action, _, region = action.partition(":")
    if action and _wait(lambda: world.deploying(region), 300):
        if action == "crash":
            _wait(lambda: _kill_deploy_step(proc.pid), 30)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            status = "CANCELLED"
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(timeout=10)
    log = "".join(lines)
    if status == "CANCELLED":
        log += exit_handler_after_cancel(world, cfg, job_name)
        return RunResult("CANCELLED", "", "run cancelled during place-and-deploy", log, time.monotonic() - start)
    result = json.loads(next((ln[7:] for ln in reversed(lines) if ln.startswith("RESULT ")), '{"status": "CRASHED"}'))
    error = user_error(log) or result.get("summary", "")
    return RunResult(result["status"], result.get("failed_task", ""), error, log, time.monotonic() - start)


def exit_handler_after_cancel(world: World, cfg: DeploymentConfig, job_name: str) -> str:
    """What Vertex runs after a cancel: the exit task of the job with state CANCELLED."""
    from components import cleanup_on_exit

    @dataclass
    class Status:
        state: str = "CANCELLED"
        error_message: str = "The pipeline was cancelled."

    with on_stand_ins(world):
        return cleanup_on_exit.python_func(project=cfg.project, location=cfg.region, placements=cfg.placements,
                                           job_resource_name=job_name,
                                           teardown_policy=cfg.teardown_policy, status=Status())
