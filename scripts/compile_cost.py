"""What compiling costs, and what each step carries: figures to read, never pass/fail.

1. CPU time (user + sys, of the child process) of compiling the three pipelines (``compile.py``)
   against that of ``import kfp.dsl``, side by side in one run, interleaved, median of ``--rounds``.
   Issue 16 asks for compiling to cost at most 2x the import.
2. With ``--steps``: each step's longest command argument (the embedded archive travels in it) and
   the headroom left under Linux's 128 KiB limit on one argument, as the README's Markdown table.

    PYTHONPATH=. python3 scripts/compile_cost.py [--rounds 3] [--steps] [--repo DIR]

``--repo`` measures another checkout (e.g. main, for a before/after); ``--profile`` prints the
cProfile of one compile (the functions of this repository first).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


MAX_ARG_STRLEN = 131_072  # Linux: the longest single argv string, NUL included (execve fails with E2BIG over it)


def step_rows() -> list[tuple[str, int, int]]:
    """(step, core modules embedded, longest command argument in bytes) of every step of this checkout."""
    import components
    from components import _runtime

    rows = []
    for name in components.__all__:
        component = getattr(components, name)
        modules = _runtime.step_modules(component.python_func)
        rows.append((component.name, len(modules), _runtime.argument_bytes(component)))
    return rows


def step_table() -> str:
    """The README's table: each step's longest argument and the headroom left under ``MAX_ARG_STRLEN``."""
    lines = ["| step | core modules embedded | longest argument (bytes) | share of the limit | headroom (bytes) |",
             "|---|---:|---:|---:|---:|"]
    for step, modules, size in step_rows():
        lines.append(f"| {step} | {modules} | {size:,} | {size / MAX_ARG_STRLEN:.0%} | {MAX_ARG_STRLEN - size:,} |")
    return "\n".join(lines)


def child_cpu(argv: list[str], repo: Path) -> float:
    """CPU seconds (user + sys) that the child ``argv`` (run in ``repo``) used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(argv, cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compile_cost(repo: Path, rounds: int) -> tuple[float, float]:
    """Median CPU seconds of ``import kfp.dsl`` and of ``compile.py``, interleaved over ``rounds``."""
    imports, compiles = [], []
    with tempfile.TemporaryDirectory() as out:
        child_cpu([sys.executable, "-c", "import kfp.dsl"], repo)  # warm the page cache once
        for _ in range(rounds):
            imports.append(child_cpu([sys.executable, "-c", "import kfp.dsl"], repo))
            compiles.append(child_cpu([sys.executable, "compile.py", "--out", out], repo))
    return statistics.median(imports), statistics.median(compiles)


def profile(repo: Path) -> None:
    """cProfile of one compile, sorted by cumulative time, this repository's functions first."""
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
        stats = f"{out}/compile.prof"
        subprocess.run([sys.executable, "-m", "cProfile", "-o", stats, "compile.py", "--out", out], cwd=repo,
                       env=env, check=True, stdout=subprocess.DEVNULL)
        code = f"import pstats; s = pstats.Stats({stats!r}).sort_stats('cumulative'); "
        code += f"s.print_stats({str(repo)!r}, 30); s.print_stats(30)"
        subprocess.run([sys.executable, "-c", code], check=True)


def write_readme_table(readme: Path) -> None:
    """Replaces the README's per-step table (the lines from its header row to the first non-table line)."""
    lines = readme.read_text(encoding="utf-8").split("\n")
    header = step_table().split("\n")[0]
    start = lines.index(header)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines[start:end] = step_table().split("\n")
    readme.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    parser.add_argument("--steps", action="store_true", help="also print the per-step table (this checkout)")
    parser.add_argument("--profile", action="store_true", help="print the cProfile of one compile")
    parser.add_argument("--readme", action="store_true", help="only rewrite the README's per-step table")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    if args.readme:
        sys.path.insert(0, str(ROOT))
        write_readme_table(ROOT / "README.md")
        return 0
    if args.profile:
        profile(repo)
        return 0
    imported, compiled = compile_cost(repo, args.rounds)
    print(f"{repo}: import kfp.dsl {imported:.2f} s CPU, compile.py (3 pipelines) {compiled:.2f} s CPU: "
          f"{compiled / imported:.2f}x (median of {args.rounds})")
    if args.steps:
        sys.path.insert(0, str(ROOT))
        print(step_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
