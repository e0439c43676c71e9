"""Every step's command fits Linux's 128 KiB limit on one argument with room to grow, and the README says how much."""

import ast
import json
import pathlib

import pytest

import components as c
import scripts.compile_cost as cost
from components import _runtime

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_ARG_STRLEN = 131_072  # Linux: one argv/env string, NUL included; over it execve fails with E2BIG
LARGEST = 64 * 1024  # issue 16: the largest step argument (xz since issues 18/21 grew the core: preflight 68,923 → 59,047)
CHECK_VERDICT = 16 * 1024  # issue 16: check-verdict needs a few lines


def test_step_arguments_stay_within_their_budgets(capsys):
    rows = cost.step_rows()
    with capsys.disabled():
        print("\n" + cost.step_table())
    sizes = {step: size for step, _, size in rows}
    assert set(sizes) == {getattr(c, name).name for name in c.__all__}
    assert cost.MAX_ARG_STRLEN == MAX_ARG_STRLEN
    largest = max(sizes, key=sizes.get)
    assert sizes[largest] <= LARGEST, (
        f"{largest}: its longest command argument is {sizes[largest]:,} bytes, over the {LARGEST:,}-byte budget "
        f"(the kernel refuses {MAX_ARG_STRLEN:,}). It embeds every core module its body can reach "
        f"({_runtime.step_modules(getattr(c, largest.replace('-', '_')).python_func)}): import less there, or "
        "move what only some callers need behind a function of its own."
    )
    assert sizes["check-verdict"] <= CHECK_VERDICT, sizes["check-verdict"]


def test_the_readme_table_matches_the_steps_within_2_percent():
    """The README's per-step table is regenerated with ``python3 scripts/compile_cost.py --steps``."""
    readme = (ROOT / "README.md").read_text()
    header = cost.step_table().splitlines()[0]
    assert header in readme, "README lacks the step-size table: paste `python3 scripts/compile_cost.py --steps`"
    table = readme[readme.index(header):].split("\n\n")[0].splitlines()[2:]
    documented = {}
    for line in table:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        documented[cells[0]] = int(cells[2].replace(",", ""))
    actual = {step: size for step, _, size in cost.step_rows()}
    assert set(documented) == set(actual), "README's step table lists other steps: run scripts/compile_cost.py --steps"
    drifted = {s: (documented[s], actual[s]) for s in actual if abs(documented[s] - actual[s]) > 0.02 * actual[s]}
    assert not drifted, f"README figures off by more than 2 % (README, now): {drifted}; run scripts/compile_cost.py --steps"


@pytest.mark.parametrize("name", ["validate_config", "preflight", "probe"])
def test_slimmed_modules_are_the_same_code_and_data(name):
    """Only docstrings and comment lines go (blanked, so line numbers hold): the same code as the source."""
    for path, data in _runtime.embedded_files(getattr(c, name)).items():
        original = ROOT / path
        if path.endswith(".json"):
            assert json.loads(data) == json.loads(original.read_bytes()), path
            continue
        assert path.endswith(".py"), path
        slim, full = ast.parse(data), ast.parse(original.read_bytes())
        for node in ast.walk(full):
            body = getattr(node, "body", None)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
                if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                    if isinstance(body[0].value.value, str):
                        node.body = body[1:] or [ast.Pass()]
        assert ast.dump(slim) == ast.dump(full), path
        assert data.count(b"\n") == original.read_bytes().count(b"\n"), f"{path}: a step's traceback lines would shift"
