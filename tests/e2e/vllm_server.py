"""Start and stop a real vLLM OpenAI server (from the separate vLLM venv) for offline end-to-end tests.

Importable from the MAIN environment: stdlib + ``requests`` only. The server runs as
``VENV/bin/python -m vllm.entrypoints.openai.api_server`` in its own process group, bound to 127.0.0.1 only.

    from tests.e2e.vllm_server import VllmServer, default_venv, tiny_model_dir
    with VllmServer(tiny_model_dir("tiny-llama")) as srv:
        requests.post(srv.base_url + "/v1/completions", json={"model": srv.served_model_name, "prompt": "Hi"})

Set up the venv and the tiny models first: ``bash scripts/setup_vllm_venv.sh``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_MARKER = ".vllm-vertex-complete"


def _repo_path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path


def default_venv() -> Path:
    """``$VLLM_VENV`` or ``.venv-vllm`` (relative to the repo root), as scripts/setup_vllm_venv.sh uses."""
    return _repo_path(os.environ.get("VLLM_VENV", ".venv-vllm"))


def default_models_dir() -> Path:
    """``$TINY_MODELS_DIR`` or ``.cache/tiny-models`` (relative to the repo root)."""
    return _repo_path(os.environ.get("TINY_MODELS_DIR", ".cache/tiny-models"))


def tiny_model_dir(name: str) -> Path:
    """Directory of a tiny model made by make_tiny_models.py (``tiny-llama`` or ``tiny-llava``)."""
    return default_models_dir() / name


def venv_problem(venv: Path | None = None, models: Sequence[str] = ("tiny-llama", "tiny-llava")) -> str | None:
    """Why the real-serving tests cannot run (for ``pytest.skip``), or None when the venv and models are there."""
    venv = Path(venv) if venv else default_venv()
    if not (venv / "bin" / "python").exists():
        return f"vLLM venv not found at {venv}; run: bash scripts/setup_vllm_venv.sh"
    if not (venv / VENV_MARKER).exists():
        return f"vLLM venv {venv} is incomplete (no {VENV_MARKER}); run: bash scripts/setup_vllm_venv.sh"
    for name in models:
        if not (tiny_model_dir(name) / "config.json").exists():
            return f"tiny model {name} missing in {default_models_dir()}; run: bash scripts/setup_vllm_venv.sh"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_multimodal(model_dir: str | os.PathLike) -> bool:
    """True when the model's config.json has a vision tower (LLaVA-style ``vision_config``)."""
    try:
        cfg = json.loads((Path(model_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return "vision_config" in cfg


# --- container args -> CPU args -------------------------------------------------------------------------------

MAX_MODEL_LEN_CAP = 512

# Flags that take no value on the vLLM command line (kept/dropped as one token).
_BOOL_FLAGS = {
    "--enforce-eager",
    "--disable-log-stats",
    "--disable-log-requests",
    "--enable-log-requests",
    "--trust-remote-code",
    "--enable-lora",
    "--enable-chunked-prefill",
    "--enable-prefix-caching",
    "--no-enable-prefix-caching",
    "--no-enable-chunked-prefill",
    "--enable-auto-tool-choice",
    "--disable-custom-all-reduce",
}
# Set by VllmServer itself, or meaningless here (model location, network binding, the launch command).
_OWNED = {"--model", "--host", "--port", "--download-dir", "--served-model-name"}
# GPU-only, multi-device, removed from vLLM, or Google-container-only flags.
_DROP = {
    "--tensor-parallel-size",
    "-tp",
    "--pipeline-parallel-size",
    "-pp",
    "--gpu-memory-utilization",
    "--swap-space",  # removed from vLLM (not in 0.32's CLI)
    "--cpu-offload-gb",
    "--distributed-executor-backend",
    "--model-type",  # Google's container only (e.g. llama3.1)
    "--kv-cache-dtype",  # fp8 KV caches are GPU features
    "--quantization",
    "--disable-custom-all-reduce",
    "--max-seq-len-to-capture",
    "--num-gpu-blocks-override",
}


def translate_container_args(args: Sequence[str]) -> list[str]:
    """Map the Vertex container args the product generates to vLLM args that make sense on this 2-core CPU.

    Input: the container's ``args`` (``--flag=value`` or ``--flag value`` forms), optionally still led by the
    launch command (``python3 -m vllm.entrypoints.api_server``), which is dropped.
    Output: ``--flag=value`` / ``--flag`` tokens to pass as ``VllmServer(extra_args=...)``. Rules:

    * ``--max-model-len``: capped at 512 (the tiny models' serving budget); smaller values are kept.
    * ``--dtype``: forced to ``float32`` (CPU kernels; the tiny models are float32); added if absent.
    * ``--max-num-seqs``, ``--enforce-eager``, ``--disable-log-stats``, ``--trust-remote-code``,
      ``--enable-prefix-caching``, ``--enable-chunked-prefill``, ``--chat-template``, ``--max-loras``,
      ``--max-cpu-loras``, ``--enable-lora`` and any other flag not listed below: kept unchanged.
    * Dropped: ``--model``, ``--host``, ``--port``, ``--download-dir``, ``--served-model-name`` (VllmServer sets
      them: the model becomes the local tiny model, the host 127.0.0.1, the port a free one);
      GPU/multi-device flags ``--tensor-parallel-size``, ``--pipeline-parallel-size``,
      ``--gpu-memory-utilization``, ``--cpu-offload-gb``, ``--distributed-executor-backend``,
      ``--kv-cache-dtype``, ``--quantization``, ``--disable-custom-all-reduce``, ``--max-seq-len-to-capture``,
      ``--num-gpu-blocks-override``; ``--swap-space`` (gone from vLLM 0.32's CLI); ``--model-type`` (a flag of
      Google's container only).
    * ``--chat-template`` whose value is a ``gs://`` URI is dropped (not readable offline).

    The KV cache size is not a container arg: VllmServer always passes ``--kv-cache-memory-bytes 64M``.
    """
    tokens = list(args)
    # Drop a leading launch command: everything before the first "--" flag (python, -m, module).
    while tokens and not tokens[0].startswith("--"):
        tokens.pop(0)

    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if "=" in tok and tok.startswith("-"):
            flag, value = tok.split("=", 1)
            pairs.append((flag, value))
        elif tok in _BOOL_FLAGS or i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
            pairs.append((tok, None))
        else:
            pairs.append((tok, tokens[i + 1]))
            i += 1
        i += 1

    out: list[str] = []
    saw_dtype = False
    for flag, value in pairs:
        if flag in _OWNED or flag in _DROP:
            continue
        if flag == "--max-model-len" and value is not None:
            try:
                value = str(min(int(value), MAX_MODEL_LEN_CAP))
            except ValueError:
                value = str(MAX_MODEL_LEN_CAP)
        elif flag == "--dtype":
            value, saw_dtype = "float32", True
        elif flag == "--chat-template" and value and value.startswith("gs://"):
            continue
        out.append(flag if value is None else f"{flag}={value}")
    if not saw_dtype:
        out.append("--dtype=float32")
    return out


# --- the server -------------------------------------------------------------------------------------------------


class VllmServer:
    """A real vLLM OpenAI-compatible server for one local model directory.

    Attributes after ``start()``: ``port``, ``base_url`` (``http://127.0.0.1:PORT``), ``pid``, ``started_at``
    (``time.time()`` at spawn), ``startup_seconds`` (spawn -> ``/health`` 200), ``served_model_name``.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        venv: str | os.PathLike | None = None,
        log_path: str | os.PathLike | None = None,
        served_model_name: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.port = port
        self.extra_args = list(extra_args)
        self.venv = Path(venv) if venv else default_venv()
        self.log_path = (
            Path(log_path) if log_path else REPO_ROOT / ".cache" / "vllm-logs" / f"{self.model_dir.name}.log"
        )
        self.served_model_name = served_model_name or str(self.model_dir)
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen | None = None
        self.started_at: float | None = None
        self.startup_seconds: float | None = None
        self._log_file = None

    # -- properties
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        cmd = [
            str(self.venv / "bin" / "python"),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--model",
            str(self.model_dir),
            "--max-model-len",
            str(MAX_MODEL_LEN_CAP),
            "--dtype",
            "float32",
            "--kv-cache-memory-bytes",
            "64M",
            "--enforce-eager",
        ]
        if self.served_model_name != str(self.model_dir):
            cmd += ["--served-model-name", self.served_model_name]
        if is_multimodal(self.model_dir):
            cmd += ["--limit-mm-per-prompt", '{"image": 1}']
        # Later occurrences win in vLLM's argparse, so extra_args may override the defaults above.
        return cmd + self.extra_args

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
            VLLM_CACHE_ROOT=str(REPO_ROOT / ".cache" / "vllm"),
            PYTHONWARNINGS="ignore",
        )
        # The main env's variables must not leak into the venv's interpreter.
        for key in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
            env.pop(key, None)
        env.update(self.extra_env)
        return env

    # -- lifecycle
    def start(self, timeout: float = 180) -> VllmServer:
        if self.process is not None:
            raise RuntimeError("already started")
        python = self.venv / "bin" / "python"
        if not python.exists():
            raise FileNotFoundError(f"{python} missing; run: bash scripts/setup_vllm_venv.sh")
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"no config.json in {self.model_dir}")
        if self.port is None:
            self.port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        (REPO_ROOT / ".cache" / "vllm").mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.time()
        t0 = time.monotonic()
        self.process = subprocess.Popen(
            self.command(),
            cwd=str(REPO_ROOT),
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stop() kills the API server, engine core and workers
        )
        try:
            self._wait_ready(t0, timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, t0: float, timeout: float) -> None:
        url = self.base_url + "/health"
        while True:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(f"vLLM server exited with code {code} during startup:\n{self.log_tail()}")
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"vLLM server not healthy after {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.5)

    def healthy(self) -> bool:
        try:
            return requests.get(self.base_url + "/health", timeout=2).status_code == 200
        except (requests.RequestException, RuntimeError):
            return False

    def stop(self, grace: float = 15) -> None:
        """SIGTERM the server's process group, then SIGKILL whatever is left after ``grace`` seconds. Idempotent."""
        proc, self.process = self.process, None
        if proc is not None:
            pgid = proc.pid  # start_new_session=True: the server leads its own group
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _group_alive(pgid):
                if proc.poll() is None:
                    try:
                        proc.wait(timeout=0.2)
                    except subprocess.TimeoutExpired:
                        pass
                else:
                    time.sleep(0.2)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> VllmServer:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort; tests call stop()
        try:
            self.stop(grace=2)
        except Exception:
            pass

    # -- diagnostics
    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def rss_bytes(self) -> int:
        """Resident memory of the whole server (API process, engine core, workers: its process group), in bytes."""
        if self.process is None:
            return 0
        pgid = self.process.pid
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) != pgid:  # field 5 (pgrp) of /proc/PID/stat
                    continue
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            except (OSError, ValueError, IndexError):
                continue
        return total


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
