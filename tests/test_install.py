"""scripts/ensure_venv.sh (what `make compile`/`make test` run first): refuses an unsupported Python before pip runs,
reinstalls when the venv is made again or its key changes, leaves an up-to-date venv alone."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "ensure_venv.sh"

pytestmark = pytest.mark.skipif(shutil.which("uv") is not None, reason="uv on PATH: the script installs with uv")


def _fake_python(path: pathlib.Path, version: str) -> pathlib.Path:
    """An interpreter that says it is ``version`` and fails the script's 3.11-3.13 check, as a real 3.10 does."""
    path.write_text(f'#!/bin/sh\necho {version}\nexit 1\n')
    path.chmod(0o755)
    return path


def _run(env: dict, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, **kw)


def test_a_named_python_3_10_is_refused_before_anything_is_made(tmp_path):
    base = _fake_python(tmp_path / "python3.10", "3.10")
    venv = tmp_path / "venv"
    result = _run({**os.environ, "VENV": str(venv), "BASE_PYTHON": str(base)})
    assert result.returncode == 2
    assert "is Python 3.10; vllm-vertex needs Python 3.11, 3.12 or 3.13" in result.stderr
    assert "BASE_PYTHON=python3.12" in result.stderr  # how to fix it
    assert not venv.exists() and "installing" not in result.stderr


def test_python3_being_3_10_with_no_newer_python_on_path_is_refused(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _fake_python(bindir / "python3", "3.10")
    for tool in ("dirname", "cat", "sha256sum", "cut", "rm"):
        (bindir / tool).symlink_to(shutil.which(tool))
    venv = tmp_path / "venv"
    env = {"PATH": str(bindir), "VENV": str(venv), "HOME": str(tmp_path)}
    result = subprocess.run([shutil.which("bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "needs Python 3.11, 3.12 or 3.13, and none was found on PATH (python3 is 3.10;" in result.stderr
    assert not venv.exists()


@pytest.fixture
def pip_logging_venv(tmp_path):
    """A "venv" whose python is this interpreter, except that ``-m pip`` only logs its arguments."""

    def make() -> pathlib.Path:
        venv = tmp_path / "venv"
        (venv / "bin").mkdir(parents=True)
        python = venv / "bin" / "python"
        python.write_text(
            "#!/bin/sh\n"
            f'if [ "$1" = -m ] && [ "$2" = pip ]; then echo "$@" >> "{tmp_path}/pip.log"; exit 0; fi\n'
            f'exec "{sys.executable}" "$@"\n'
        )
        python.chmod(0o755)
        return venv

    return make


def _pip_calls(tmp_path: pathlib.Path) -> list[str]:
    log = tmp_path / "pip.log"
    return log.read_text().splitlines() if log.exists() else []


def test_the_stamp_is_kept_in_the_venv_and_keyed_by_interpreter_and_pyproject(tmp_path, pip_logging_venv):
    venv = pip_logging_venv()
    env = {**os.environ, "VENV": str(venv)}
    first = _run(env)
    assert first.returncode == 0, first.stderr
    assert _pip_calls(tmp_path) == ["-m pip install --disable-pip-version-check -e .[test]"]
    assert "installing vllm-vertex and its test tools" in first.stderr  # progress is shown, not --quiet
    stamp = venv / ".vllm-vertex-installed"
    key = stamp.read_text()

    assert _run(env).returncode == 0
    assert len(_pip_calls(tmp_path)) == 1  # up to date: nothing installed

    stamp.write_text("0123456789abcdef\n")  # what another interpreter or another pyproject.toml would give
    assert _run(env).returncode == 0
    assert len(_pip_calls(tmp_path)) == 2 and stamp.read_text() == key

    shutil.rmtree(venv)  # the venv made again: its stamp went with it
    pip_logging_venv()
    assert _run(env).returncode == 0
    assert len(_pip_calls(tmp_path)) == 3


def test_makefile_runs_everything_in_the_project_venv():
    makefile = (ROOT / "Makefile").read_text()
    assert "VENV ?= .venv" in makefile and "bash scripts/ensure_venv.sh" in makefile
    recipes = [line.strip() for line in makefile.splitlines() if line.startswith("\t")]
    python_runs = [r for r in recipes if " -m pytest" in r or "compile.py" in r or "ruff" in r]
    assert python_runs and all("$(PY)" in r for r in python_runs)
    assert "--quiet" not in makefile and "$(PYTHON)" not in makefile
