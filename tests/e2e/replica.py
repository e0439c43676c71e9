"""The image-replica tier: the compiled YAML's steps, run verbatim where Vertex runs them.

Vertex runs each step in ``gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0`` (Python 3.12 and
that image's own kfp, aiplatform, protobuf...), not in our development environment. The replica is a
Python 3.12 virtualenv holding the image's locked package set (``scripts/setup_image_replica.sh``,
``image/gcpc-2.22.0-image.lock``).

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

__all__ = ["TIMING", "build_layer", "layer_packages", "lock_runtime_image", "new_container", "replica_dir",
           "replica_problem", "run_step"]


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


def new_container(parent: Path, layer: Path | None = None) -> Path:
    """A fresh virtualenv whose interpreter sees the replica's packages under its own (like a new container).

    ``pip install`` in the container installs into the container's own site-packages, which come first on
    ``sys.path``; pip leaves the replica's copies alone ("outside environment"), as a container's layer does.
    ``bin/python3`` logs when each Python process starts (for the step's start-up overhead). ``layer``: a
    virtualenv built by ``build_layer`` whose packages sit between the container's and the replica's.
    """
    replica = replica_dir()
    base = replica / "bin" / "python3"
    path = Path(tempfile.mkdtemp(prefix="container-", dir=parent))
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(path)], check=True)
    site = _site_packages(path)
    if layer is not None:  # an image built on top (image/Dockerfile): its packages come before the base's
        (site / "_0_layer.pth").write_text(f"import site; site.addsitedir({str(_site_packages(layer))!r})\n")
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


def _step_env(container: Path, env_vars: dict[str, str] | None, layer: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    if layer is not None:
        env.update(json.loads((layer / "image-env.json").read_text()))
    env.update(env_vars or {})
    env["PATH"] = f"{container / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["VIRTUAL_ENV"] = str(container)
    return env


def _arg(command: list[str], flag: str) -> str:
    return next((command[i + 1] for i, a in enumerate(command[:-1]) if a == flag), "")


def run_step(full_command: list[str], env_vars: dict[str, str] | None = None, layer: Path | None = None) -> int:
    """Runs one step's resolved command verbatim in a new container; prints its output and a timing line."""
    parent = Path(tempfile.mkdtemp(prefix="replica-step-"))
    try:
        container = new_container(parent, layer)
        name = _arg(full_command, "--function_to_execute") or "?"
        start = time.time()
        with subprocess.Popen(full_command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                              env=_step_env(container, env_vars, layer), cwd=parent) as proc:
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


def _patch_kfp_local(layer: Path | None = None) -> None:
    """kfp.local's subprocess handler, with each step run by ``run_step`` instead of in this interpreter."""
    from kfp.local import status, subprocess_task_handler

    def run(self) -> status.Status:
        code = run_step(list(self.full_command), self.env_vars, layer)
        return status.Status.SUCCESS if code == 0 else status.Status.FAILURE

    subprocess_task_handler.SubprocessTaskHandler.run = run


def build_layer(dockerfile: Path, dest: Path) -> Path:
    """Builds what ``dockerfile`` adds on top of GCPC's image into ``dest``, from its own instructions.

    Docker is not needed: ``FROM`` must be the image the replica reproduces; ``COPY`` copies from the
    repository into ``dest/root``; each ``RUN`` command runs with ``pip3`` being the layer's own pip over the
    replica (so packages land in the layer, as in the image's layer); ``ENV`` values are kept, with
    absolute paths under ``dest/root``, for every step run on the layer. Returns the layer (a virtualenv).
    """
    import shlex

    from components._runtime import BASE_IMAGE

    root = dest / "root"
    layer = new_container(dest)
    env_file = {}
    for line in _instructions(dockerfile.read_text()):
        word, rest = line.split(None, 1)
        word = word.upper()
        if word == "FROM":
            assert rest.strip() == BASE_IMAGE, f"{dockerfile} builds FROM {rest!r}, the replica is {BASE_IMAGE}"
        elif word == "COPY":
            src, dst = shlex.split(rest)
            target = root / dst.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            copy = shutil.copytree if (ROOT / src).is_dir() else shutil.copyfile
            copy(ROOT / src, target)
        elif word == "ENV":
            key, value = rest.split("=", 1)
            env_file[key.strip()] = str(root / value.strip().lstrip("/")) if value.strip().startswith("/") else value
        elif word == "RUN":
            command = rest.replace(" /", f" {root}/")
            bindir = layer / "bin"
            (bindir / "pip3").write_text(f'#!/bin/sh\nexec "{bindir}/python" -m pip "$@"\n')
            (bindir / "pip3").chmod(0o755)
            result = subprocess.run(["sh", "-ec", command], env=_step_env(layer, {}), cwd=dest,
                                    capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(f"RUN {rest} failed:\n{result.stdout}\n{result.stderr}")
        else:
            raise AssertionError(f"{dockerfile}: the replica does not interpret {word}")
    (layer / "image-env.json").write_text(json.dumps(env_file))
    return layer


def _instructions(text: str) -> list[str]:
    """A Dockerfile's instructions, comments dropped and continuation lines joined."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        current += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            out.append(current)
            current = ""
    return out


def layer_packages(layer: Path) -> dict[str, str]:
    """``{name: version}`` of what a layer (or container) installed, names normalised as in lock files."""
    out = {}
    for dist in _site_packages(layer).glob("*.dist-info"):
        name, version = dist.name[: -len(".dist-info")].rsplit("-", 1)
        out[name.lower().replace("_", "-").replace(".", "-")] = version
    return out


# Raised over the image's own versions although no step imports them directly (issue 17: urllib3 2.5.0's CVEs).
SECURITY_PINS = ("urllib3==2.8.0",)


def lock_runtime_image(path: Path) -> dict[str, str]:
    """Writes ``path``: what pip installs over the image for every step's pinned clients (``PACKAGES``) and
    ``SECURITY_PINS``."""
    from components._runtime import PACKAGES

    with tempfile.TemporaryDirectory() as tmp:
        layer = new_container(Path(tmp))
        subprocess.run([str(layer / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *PACKAGES.values(), *SECURITY_PINS], check=True, env=_step_env(layer, {}))
        packages = layer_packages(layer)
    header = ("# What image/Dockerfile installs over gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0: the\n"
              "# pinned clients of every step (components/_runtime.py PACKAGES) and what pip upgrades for them there.\n"
              "# Generated by scripts/lock_runtime_image.sh (pip 24.0 over the image replica); do not edit.\n")
    path.write_text(header + "".join(f"{n}=={v}\n" for n, v in sorted(packages.items())))
    return packages


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

    import yaml
    from google.protobuf import json_format
    from kfp import local
    from kfp.local import pipeline_orchestrator
    from kfp.pipeline_spec import pipeline_spec_pb2

    from pipelines.compiling import compile_pipeline, pipeline_arguments
    from tests.e2e.run_local import resolve_job_resource_name, run_and_report
    from vllm_vertex.config import from_dict

    request = json.loads(request_json)
    cfg = from_dict(request["config"])
    canary = request.get("canary_endpoint")
    root = Path(request["pipeline_root"])
    path = compile_pipeline(cfg, root.parent / ("canary.yaml" if canary is not None else "pipeline.yaml"),
                            canary_endpoint=canary,
                            **({"image": request["image"]} if request.get("image") else {}))
    spec = json_format.ParseDict(yaml.safe_load(path.read_text()), pipeline_spec_pb2.PipelineSpec())
    args = pipeline_arguments(cfg, canary_endpoint=canary)  # the stand-ins: the environment's override
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    resolve_job_resource_name(request["job_resource_name"])
    _patch_kfp_local(Path(request["layer"]) if request.get("layer") else None)
    if request.get("ints_as_floats"):
        _send_ints_as_floats()
    return run_and_report(lambda: pipeline_orchestrator.run_local_pipeline(pipeline_spec=spec, arguments=args))


if __name__ == "__main__":
    if sys.argv[1] == "--lock-runtime-image":
        print(lock_runtime_image(Path(sys.argv[2])))
        sys.exit(0)
    sys.exit(main(sys.argv[1]))
