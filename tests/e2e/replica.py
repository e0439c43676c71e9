"""The image-replica tier: the compiled YAML's steps, run verbatim where Vertex runs them.

Vertex runs each step in ``gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0`` (Python 3.12 and
that image's own kfp, aiplatform, protobuf...), not in our development environment. The replica is a
Python 3.12 virtualenv holding the image's locked package set (``scripts/setup_image_replica.sh``,
``docker/gcpc-2.22.0-image.lock``).

``python -m tests.e2e.replica REQUEST_JSON`` compiles the pipeline to YAML with the production compiler
(the variant with the test hooks that point the steps at the stand-ins), parses the YAML back, and lets ``kfp.local`` orchestrate it (DAG, conditions, artifacts, exit handler).
Each step's ``command`` + ``args`` from the YAML (placeholders resolved, as Vertex's launcher does) runs
through ``sh`` in a fresh *container*: a new virtualenv layered over the replica, so that what one step
pip-installs never leaks into the next, as on Vertex. Nothing from this repository is on the step's path:
our code reaches it only through the YAML's embedded archive. Each step prints one ``STEP-TIMING`` line
(its start-up overhead: ``sh`` + the step's ``pip install``, until the KFP executor starts). With
``"ints_as_floats": true`` in the request, every integer parameter reaches its step as ``1.0``-style floats.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMING = "STEP-TIMING "

__all__ = ["TIMING", "replica_dir", "replica_problem", "new_container", "run_step"]


def replica_dir() -> Path:
    """The replica virtualenv (``IMAGE_REPLICA``, default ``.venv-image`` in the repository)."""
    path = Path(os.environ.get("IMAGE_REPLICA", ".venv-image"))
    return path if path.is_absolute() else ROOT / path


def replica_problem() -> str:
    """Why the replica cannot be used (empty when it can)."""
    venv = replica_dir()
    if not (venv / ".image-replica-complete").is_file():
        return f"no image replica at {venv}: run `bash scripts/setup_image_replica.sh` (make image-replica)"
    return ""


def _site_packages(venv: Path) -> Path:
    [found] = (venv / "lib").glob("python3.*/site-packages")
    return found


def new_container(parent: Path) -> Path:
    """A fresh virtualenv whose interpreter sees the replica's packages under its own (like a new container).

    ``pip install`` in the container installs into the container's own site-packages, which come first on
    ``sys.path``; pip leaves the replica's copies alone ("outside environment"), as a container's layer does.
    ``bin/python3`` logs when each Python process starts (for the step's start-up overhead).
    """
    replica = replica_dir()
    base = replica / "bin" / "python3"
    path = Path(tempfile.mkdtemp(prefix="container-", dir=parent))
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(path)], check=True)
    site = _site_packages(path)
    (site / "_gcpc_image.pth").write_text(f"import site; site.addsitedir({str(_site_packages(replica))!r})\n")
    bindir = path / "bin"
    (bindir / "python3").unlink()
    (bindir / "python3").write_text(
        '#!/bin/sh\nprintf "%s %s\\n" "$(date +%s.%N)" "$*" >> "$(dirname "$0")/../starts.log"\n'
        'exec "$(dirname "$0")/python" "$@"\n'
    )
    (bindir / "pip").write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n')
    for name in ("python3", "pip"):
        (bindir / name).chmod(0o755)
    return path


def _step_env(container: Path, env_vars: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env.update(env_vars or {})
    env["PATH"] = f"{container / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(container)
    return env


def _arg(command: list[str], flag: str) -> str:
    return next((command[i + 1] for i, a in enumerate(command[:-1]) if a == flag), "")


def run_step(full_command: list[str], env_vars: dict[str, str] | None = None, workdir: Path | None = None) -> int:
    """Runs one step's resolved command verbatim in a new container; prints its output and a timing line."""
    parent = Path(tempfile.mkdtemp(prefix="replica-step-", dir=workdir))
    try:
        container = new_container(parent)
        name = _arg(full_command, "--function_to_execute") or "?"
        start = time.time()
        with subprocess.Popen(full_command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                              env=_step_env(container, env_vars), cwd=parent, start_new_session=False) as proc:
            for line in iter(proc.stdout.readline, ""):
                print(line, end="")
            code = proc.wait()
        end = time.time()
        starts = [ln.split(" ", 1) for ln in (container / "starts.log").read_text().splitlines()] \
            if (container / "starts.log").exists() else []
        executor = next((float(t) for t, args in starts if "kfp.dsl.executor_main" in args), end)
        sent = json.loads(_arg(full_command, "--executor_input") or "{}").get("inputs", {}).get("parameterValues", {})
        floats = sorted(k for k, v in sent.items() if isinstance(v, float) and v.is_integer())
        installed = sorted(p.name[: -len(".dist-info")] for p in _site_packages(container).glob("*.dist-info"))
        print(TIMING + json.dumps({"step": name, "startup_s": round(executor - start, 2),
                                   "run_s": round(end - executor, 2), "exit": code, "installed": installed,
                                   "whole_floats_sent": floats}),
              flush=True)
        return code
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _patch_kfp_local() -> None:
    """kfp.local's subprocess handler, with each step run by ``run_step`` instead of in this interpreter."""
    from kfp.local import status, subprocess_task_handler

    def run(self) -> status.Status:
        code = run_step(list(self.full_command), self.env_vars)
        return status.Status.SUCCESS if code == 0 else status.Status.FAILURE

    subprocess_task_handler.SubprocessTaskHandler.run = run


def _send_ints_as_floats() -> None:
    """Every integer parameter reaches its step as a float (``1.0``), as a backend that keeps JSON's one number
    type would send it (kfp.local itself casts them back to ints)."""
    from kfp.local import executor_input_utils

    cast = executor_input_utils.executor_input_to_dict

    def as_floats(*args, **kwargs):
        out = cast(*args, **kwargs)
        values = out.get("inputs", {}).get("parameterValues", {})
        for key, value in values.items():
            if isinstance(value, int) and not isinstance(value, bool):
                values[key] = float(value)
        return out

    executor_input_utils.executor_input_to_dict = as_floats


def main(request_json: str) -> int:
    """Compiles, then runs one pipeline in the replica; the last line is ``RESULT {...}`` (as run_local)."""
    import re

    import yaml
    from google.protobuf import json_format
    from kfp import local
    from kfp.local import pipeline_orchestrator
    from kfp.pipeline_spec import pipeline_spec_pb2

    from pipelines.compiling import compile_pipeline, pipeline_arguments
    from tests.e2e.run_local import ANSI
    from vllm_vertex.config import from_dict

    request = json.loads(request_json)
    cfg = from_dict(request["config"])
    canary = request.get("canary_endpoint")
    root = Path(request["pipeline_root"])
    path = compile_pipeline(cfg, root.parent / ("canary.yaml" if canary is not None else "pipeline.yaml"),
                            canary_endpoint=canary, for_tests=True,
                            **({"image": request["image"]} if request.get("image") else {}))
    spec = json_format.ParseDict(yaml.safe_load(path.read_text()), pipeline_spec_pb2.PipelineSpec())
    args = pipeline_arguments(cfg, api_endpoint=request["api_endpoint"], canary_endpoint=canary,
                              hf_endpoint=request.get("hf_endpoint", ""))
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    _patch_kfp_local()
    if request.get("ints_as_floats"):
        _send_ints_as_floats()
    status, failed_task, summary = "SUCCESS", "", ""
    try:
        pipeline_orchestrator.run_local_pipeline(pipeline_spec=spec, arguments=args)
    except RuntimeError as err:
        status = "FAILURE"
        summary = ANSI.sub("", str(err))
        found = re.search(r"Inner task failed: '?([\w-]+)", summary)
        failed_task = found[1] if found else ""
    sys.stdout.flush()
    print("RESULT " + json.dumps({"status": status, "failed_task": failed_task, "summary": summary}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
