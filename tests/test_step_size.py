"""Every step's command fits Linux's 128 KiB limit on one argument, and the slimmed embedded core is the same code."""

import ast
import json
import os
import pathlib

import pytest
import yaml
from kfp import compiler

import components as c
from components import _runtime

MAX_ARG_STRLEN = 131_072  # Linux: one argv/env string, NUL included; over it execve fails with E2BIG
HEADROOM = 0.9  # fail while there is still room to react


@pytest.mark.parametrize("name", c.__all__)
def test_each_step_command_argument_is_under_the_limit(tmp_path, name):
    path = tmp_path / "step.yaml"
    compiler.Compiler().compile(getattr(c, name), str(path))
    spec = yaml.safe_load(path.read_text())
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor["container"]
        longest = max(len(a.encode()) + 1 for a in container["command"] + container.get("args", []))
        assert longest < MAX_ARG_STRLEN * HEADROOM, (
            f"{name}: one command argument is {longest:,} bytes, over {HEADROOM:.0%} of the kernel's "
            f"{MAX_ARG_STRLEN:,}-byte limit: the step would not start. Keep CLI-only code out of the core "
            "(_runtime._EXCLUDE)."
        )


def test_slimmed_core_is_the_same_code_and_data():
    core = pathlib.Path(_runtime.CORE_DIR) / "vllm_vertex"
    source = pathlib.Path(_runtime.__file__).resolve().parent.parent / "vllm_vertex"
    staged = sorted(p for p in core.rglob("*") if p.is_file())
    assert staged and all("commands" not in p.parts for p in staged)
    for path in staged:
        original = source / path.relative_to(core)
        if path.suffix == ".json":
            assert json.loads(path.read_text()) == json.loads(original.read_text())
        elif path.suffix == ".py":
            slim, full = ast.parse(path.read_text()), ast.parse(original.read_text())
            # same code once docstrings are dropped from the original too
            assert ast.dump(slim) == ast.dump(ast.parse(_runtime._slim(original).decode())), path
            assert "def " not in path.read_text() or os.path.getsize(path) <= os.path.getsize(original)
            assert len([n for n in ast.walk(full) if isinstance(n, ast.FunctionDef)]) == len(
                [n for n in ast.walk(slim) if isinstance(n, ast.FunctionDef)]
            ), path
