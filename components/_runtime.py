"""How our code reaches a pipeline step at run time on Vertex, without a custom image.

Every component is a lightweight Python component on Google's GCPC image (aiplatform, kfp,
google-auth and GCPC are preinstalled there). The pure core package ``vllm_vertex`` travels
inside the component itself through KFP's ``embedded_artifact_path``: compile time packs it
as a tarball into the component's source; run time unpacks it and puts it on ``sys.path``.
Steps pip-install only small, pinned clients that the image lacks (see ``PACKAGES``).

With a prebuilt runtime image (``image/Dockerfile``: GCPC's image plus those clients and the core,
``vllm-vertex compile --image URI``), ``image_container`` gives each step a container that installs
nothing and embeds nothing.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import pathlib
import shutil
import tempfile
from unittest import mock

from kfp import dsl

__all__ = ["BASE_IMAGE", "PACKAGES", "CORE_DIR", "image_container", "vllm_component"]

BASE_IMAGE = "gcr.io/ml-pipeline/google-cloud-pipeline-components:2.22.0"

# Pinned clients a step installs at run time, by the name the components use.
PACKAGES: dict[str, str] = {
    "quotas": "google-cloud-quotas==0.6.3",
    "secrets": "google-cloud-secret-manager==2.32.0",
    "openai": "openai==3.57.0",
    "aiohttp": "aiohttp==3.13.2",  # the image's own version: nothing to install there
    "hf": "huggingface_hub==2.4.0",
    "logging": "google-cloud-logging==3.17.0",
}

_SOURCE = pathlib.Path(__file__).resolve().parent.parent / "vllm_vertex"
_EXCLUDE = {"cli.py", "commands", "doctor", "__pycache__"}  # CLI-only code stays out of the steps
# Modules only the CLI imports. Every embedded byte counts against Linux's limit on one argument
# (MAX_ARG_STRLEN, 128 KiB), which the step's command must stay under.
# (configfile stays: validate-config reads console values with it.)
_CLI_ONLY = {"finish.py", "cloud/jobs.py", "pricing_catalog.py", "cloud/billing_catalog.py", "gcloud_defaults.py"}
_FIXED_MTIME = 1_700_000_000


_SLIM_VERSION = b"slim-1"  # part of the staging folder's name: change it when _slim changes


def _slim(path: pathlib.Path) -> bytes:
    """The file as embedded: Python without docstrings (``ast.unparse``), JSON without whitespace.

    The whole core travels inside each step's command as one argument, and Linux refuses an
    argument over 128 KiB (``MAX_ARG_STRLEN``; execve fails with E2BIG, on Vertex as under
    kfp.local). Code and data are unchanged; only docstrings, comments and layout go, so a
    traceback from a step shows the unparsed code.
    """
    import ast
    import json

    data = path.read_bytes()
    if path.suffix == ".json":
        return json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False).encode()
    if path.suffix != ".py":
        return data
    tree = ast.parse(data, filename=str(path))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                first.value.value, str
            ):
                node.body = body[1:] or [ast.Pass()]
    return (ast.unparse(tree) + "\n").encode()


def _stage_core() -> str:
    """A copy of the core package (sources and data; no caches, no CLI) with fixed mtimes.

    The folder is named by a hash of what it holds, so every process that compiles the same
    sources reuses one folder and nothing piles up in the temp directory.
    """
    keep = sorted(
        p
        for p in _SOURCE.rglob("*")
        if p.is_file()
        and not (set(p.relative_to(_SOURCE).parts) & _EXCLUDE)
        and p.relative_to(_SOURCE).as_posix() not in _CLI_ONLY
        and p.suffix not in (".pyc", ".pyo")
    )
    digest = hashlib.sha256(_SLIM_VERSION)
    for path in keep:
        digest.update(str(path.relative_to(_SOURCE)).encode() + b"\0" + path.read_bytes())
    root = pathlib.Path(tempfile.gettempdir()) / f"vllm-vertex-core-{digest.hexdigest()[:16]}"
    if not (root / "vllm_vertex").is_dir():
        work = pathlib.Path(tempfile.mkdtemp(prefix="vllm-vertex-core-staging-"))
        for path in keep:
            target = work / "vllm_vertex" / path.relative_to(_SOURCE)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(_slim(path))
        for path in [work, *work.rglob("*")]:
            os.utime(path, (_FIXED_MTIME, _FIXED_MTIME))
        try:
            work.rename(root)
        except OSError:  # another process staged it first
            shutil.rmtree(work, ignore_errors=True)
    for cache in root.rglob("__pycache__"):  # Python run on the folder wrote bytecode: KFP would embed it too
        shutil.rmtree(cache, ignore_errors=True)
    return str(root)


CORE_DIR = _stage_core()


def vllm_component(*packages: str):
    """``@dsl.component`` on the GCPC image with the core embedded and ``packages`` installed.

    The embedded archive is gzipped with a fixed timestamp, so compiling twice gives the same
    YAML byte for byte (KFP would stamp the current time).
    """
    decorator = dsl.component(
        base_image=BASE_IMAGE,
        packages_to_install=[PACKAGES[p] for p in packages],
        install_kfp_package=False,
        embedded_artifact_path=CORE_DIR,
    )

    def wrap(func):
        _FUNCTIONS[func.__name__] = func
        with mock.patch.object(gzip, "compress", functools.partial(_real_compress, mtime=0)):
            return decorator(func)

    return wrap


_real_compress = gzip.compress
_FUNCTIONS: dict[str, object] = {}  # each component's Python function, by name (``--function_to_execute``)


def image_container(function_name: str, image: str) -> dict:
    """The container of step ``function_name`` on a prebuilt runtime ``image`` (``image/Dockerfile``).

    The image already holds the pinned clients and the core package, so the step installs nothing at
    run time and carries no embedded archive: ``{"image", "command", "args"}`` for the compiled YAML.
    """
    component = dsl.component(base_image=image, install_kfp_package=False)(_FUNCTIONS[function_name])
    container = component.component_spec.implementation.container
    return {"image": image, "command": list(container.command), "args": list(container.args)}
