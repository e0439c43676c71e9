"""What each step embeds: its import closure, built in memory, the same bytes for anyone, nothing taken from a folder."""

import ast
import hashlib
import io
import lzma
import os
import pathlib
import subprocess
import sys
import sysconfig
import tarfile
import textwrap

import pytest
import yaml

import components as c
from components import _runtime

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE = ROOT / "vllm_vertex"
MODEL_CONFIGS = sorted(f"vllm_vertex/model_configs/{p.name}" for p in (CORE / "model_configs").glob("*.json"))


def _files(*modules: str) -> set[str]:
    return {f"vllm_vertex/{m}" for m in modules}


def test_check_verdict_carries_exactly_its_closure():
    """check-verdict needs ``whole_number`` (``numbers``) and the error it raises, which masks with ``redact``; every
    step masks its output (``masked_streams``)."""
    assert set(_runtime.embedded_files(c.check_verdict)) == _files(
        "__init__.py", "errors.py", "numbers.py", "redact.py", "masked_streams.py"
    )


def test_validate_config_carries_exactly_its_closure():
    """validate-config runs the whole validation: the planner's model-config reading (not its memory model: the
    package serves its names lazily), the model configs it reads, the probe's SLO and each vLLM version's flags."""
    assert set(_runtime.embedded_files(c.validate_config)) == _files(
        "__init__.py", "capacity.py", "config.py", "configfile.py", "errors.py", "hardware.py", "naming.py",
        "numbers.py", "payloads.py", "placements.py", "recipes.py", "redact.py", "sdk_regions.py", "vllm_flags.py",
        "vllm_known_flags.py", "data/vllm_cli_flags.json", "masked_streams.py", "planner/__init__.py",
        "planner/_base.py", "planner/configs.py", "planner/context.py", "planner/model.py",
        "planner/quant.py",
        "probe/__init__.py", "probe/slo.py", "probe/workload.py",
    ) | set(MODEL_CONFIGS)


@pytest.mark.parametrize("name", c.__all__)
def test_each_archive_is_what_the_closure_says(name):
    component = getattr(c, name)
    modules = _runtime.step_modules(component.python_func)
    assert set(_runtime.embedded_files(component)) == set(_runtime.archive_files(modules))
    assert not [m for m in modules if m.startswith(("vllm_vertex.commands", "vllm_vertex.doctor", "vllm_vertex.cli"))]


def _body_imports(func) -> list[str]:
    tree = ast.parse(textwrap.dedent(__import__("inspect").getsource(func)))
    return sorted(
        ast.unparse(n) for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom) and ast.unparse(n).split()[1].startswith("vllm_vertex")
    )


ISOLATED = """
import importlib, pathlib, sys
archive, purelib, *modules = sys.argv[1:]
sys.path[:0] = [archive]
sys.path.append(purelib)  # the image's packages; no .pth is read (-S), so no editable install of the repo
for name in modules:
    importlib.import_module(name)
{body_imports}
outside = sorted(n for n, m in sys.modules.items() if n.split(".")[0] == "vllm_vertex"
                 and not pathlib.Path(m.__file__).resolve().is_relative_to(pathlib.Path(archive).resolve()))
assert not outside, f"served from outside the archive: {{outside}}"
if "vllm_vertex.planner.configs" in modules:  # the package data it declares came along
    from vllm_vertex.planner import configs
    assert configs.shipped_config("llama-3.1-8b-instruct")["architectures"]
print(len(modules))
"""


@pytest.mark.parametrize("name", c.__all__)
def test_each_steps_archive_alone_satisfies_every_core_import_it_can_reach(tmp_path, name):
    """Extracted into an empty folder, as the step does, with nothing else of ours on the path (``-I -S``): the
    body's own imports and every module of the closure import from the archive alone."""
    component = getattr(c, name)
    for path, data in _runtime.embedded_files(component).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    modules = _runtime.step_modules(component.python_func)
    code = ISOLATED.format(body_imports="\n".join(_body_imports(component.python_func)))
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(tmp_path), sysconfig.get_paths()["purelib"], *modules],
        cwd=tmp_path, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str(len(modules))


def _old_staging_name() -> str:
    """The folder main's ``_runtime`` reused by name: ``$TMPDIR/vllm-vertex-core-<hash of the core's sources>``."""
    exclude, cli_only = {"cli.py", "commands", "doctor", "__pycache__"}, {
        "finish.py", "cloud/jobs.py", "pricing_catalog.py", "cloud/billing_catalog.py"}
    digest = hashlib.sha256(b"slim-1")
    for path in sorted(p for p in CORE.rglob("*") if p.is_file() and p.suffix not in (".pyc", ".pyo")):
        rel = path.relative_to(CORE)
        if not set(rel.parts) & exclude and rel.as_posix() not in cli_only:
            digest.update(str(rel).encode() + b"\0" + path.read_bytes())
    return f"vllm-vertex-core-{digest.hexdigest()[:16]}"


def test_a_folder_planted_in_tmpdir_never_gets_into_an_archive(tmp_path):
    """Issue 17 item 3: a copy of the core planted in TMPDIR, under the old staging name or any other, with a line
    added to ``redact.py``, was embedded into every step. Compiling now reads no folder there and leaves none."""
    tmpdir = tmp_path / "tmp"
    planted = [_old_staging_name(), "vllm-vertex-core-0000000000000000", "vllm-vertex-embed-x", "vllm_vertex"]
    for name in planted:
        folder = tmpdir / name / "vllm_vertex"
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "redact.py").write_text((CORE / "redact.py").read_text() + "\nPLANTED = 'PLANTED-BY-ANOTHER-USER'\n")
        (folder / "planted.py").write_text("PLANTED = 1\n")
    out = tmp_path / "out"
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([sys.executable, "compile.py", "--out", str(out)], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    archives = 0
    for path in out.glob("*.yaml"):
        for executor in yaml.safe_load(path.read_text())["deploymentSpec"]["executors"].values():
            (encoded,) = _runtime._B64.findall(executor["container"]["command"][-1])
            with tarfile.open(fileobj=io.BytesIO(__import__("base64").b64decode(encoded)), mode="r:xz") as tar:
                for member in tar.getmembers():
                    assert "planted" not in member.name
                    if member.isfile():
                        assert b"PLANTED" not in tar.extractfile(member).read(), (path.name, member.name)
            archives += 1
    assert archives == 29  # two deploy pipelines of 13 steps (place-and-deploy, stage-weights), the canary 3
    assert sorted(p.name for p in tmpdir.iterdir()) == sorted(planted), "compiling left a folder in TMPDIR"


def test_importing_the_runtime_or_the_components_stages_nothing(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    code = "import components._runtime as r, os; assert not os.listdir({0!r}); import components; print(os.listdir({0!r}))"
    out = subprocess.run([sys.executable, "-c", code.format(str(tmp_path))], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
    assert not hasattr(_runtime, "CORE_DIR")


def test_no_product_module_imports_unittest():
    product = [ROOT / "compile.py", *(ROOT / "components").rglob("*.py"), *(ROOT / "pipelines").rglob("*.py"),
               *CORE.rglob("*.py")]
    offenders = []
    for path in product:
        for node in ast.walk(ast.parse(path.read_bytes())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] == "unittest"]
    assert not offenders


def test_the_archive_bytes_depend_on_the_sources_only():
    modules = _runtime.step_modules(c.validate_config.python_func)
    archive = _runtime.core_archive(modules)
    assert archive == _runtime.core_archive(modules)
    assert archive.startswith(b"\xfd7zXZ\0"), "not xz (no timestamp in its header, unlike gzip's)"
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(archive))) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", _runtime._FIXED_MTIME)}
    assert {m.mode for m in members if m.isdir()} == {0o755} and {m.mode for m in members if m.isfile()} == {0o644}
    assert "vllm_vertex/cloud" not in {m.name for m in members}


def test_every_data_file_in_the_core_is_declared_by_the_module_that_reads_it():
    """A step embeds a data file only when a module it reaches declares it in ``__package_data__``."""
    declared = set()
    for path in CORE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        declared |= {f"vllm_vertex/{d}" for d in _runtime._module(name).data}
    shipped = {p.relative_to(ROOT).as_posix() for p in CORE.rglob("*")
               if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert declared == shipped == set(MODEL_CONFIGS) | {"vllm_vertex/data/vllm_cli_flags.json"}


def test_the_walker_follows_functions_not_whole_modules():
    """Reaching one function of a module reaches that module's import-time code and what that function imports,
    lazily included; a package's lazy ``__getattr__`` reaches every submodule it may load."""
    step = set(_runtime.closure([("vllm_vertex.cloud.teardown", "teardown_run_or_raise")]))
    cli = set(_runtime.closure([("vllm_vertex.cloud.teardown", "plan_endpoint_teardown")]))
    assert "vllm_vertex.cloud.smoke" in cli - step  # imported inside the CLI-only function
    assert "vllm_vertex.planner" in set(_runtime.closure([("vllm_vertex.config", "validate")]))
    assert "vllm_vertex.planner" not in set(_runtime.closure([("vllm_vertex.config", "whole_number")]))
    lazy = set(_runtime.closure([("vllm_vertex.probe", "percentile")]))
    assert {"vllm_vertex.probe.metrics", "vllm_vertex.probe.capacity", "vllm_vertex.probe.records"} <= lazy
    assert "vllm_vertex.probe.metrics" not in set(_runtime.closure([("vllm_vertex.probe.slo", "parse_slo")]))


def test_a_lazy_package_name_reaches_only_its_submodule_and_type_checking_imports_do_not_count():
    """``planner.shipped_config`` reaches ``planner.configs`` through the package's ``__lazy__``, not every
    submodule its ``__getattr__`` could import; the package's ``if TYPE_CHECKING:`` imports never run."""
    reached = set(_runtime.closure([("vllm_vertex.planner", "shipped_config")]))
    assert "vllm_vertex.planner.configs" in reached
    assert not {"vllm_vertex.planner.memory", "vllm_vertex.planner.verdict", "vllm_vertex.planner.plans"} & reached
    everything = set(_runtime.closure([("vllm_vertex.planner", "plan")]))
    assert {"vllm_vertex.planner.plans", "vllm_vertex.planner.memory", "vllm_vertex.planner.verdict"} <= everything
    assert set(_runtime.closure([("vllm_vertex.planner", "__getattr__")])) >= everything  # any other name: all


def test_a_step_runs_a_lazily_served_name_from_its_archive_alone(tmp_path):
    """The lazy ``__getattr__`` works inside an archive that holds only what the closure says."""
    import subprocess
    import sys

    for path, data in _runtime.archive_files(_runtime.closure([("vllm_vertex.planner", "shipped_config")])).items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    code = ("import sys; sys.path.insert(0, '.'); import vllm_vertex.planner as p; assert p.shipped_config('meta-llama/Meta-Llama-3.1-8B') is not None; "
            "assert 'vllm_vertex.planner.memory' not in sys.modules; import os; assert os.path.realpath(p.__file__).startswith(os.getcwd())")
    done = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
