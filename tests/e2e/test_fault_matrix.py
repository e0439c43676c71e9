"""The fault matrix under pytest: every fault × every teardown policy against real vLLM.

Expected: zero resources left for ``always`` and ``on_failure`` in every failing row; ``never``
keeps exactly what the run created; transient faults (429, 503) are retried and the run passes
(``on_failure`` then keeps the passing deployment, as designed). The table is written to
``.cache/e2e/matrix.md`` and printed at the end of the session.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.harness import real_backend
from tests.e2e.matrix import PLACEMENT_FAULTS, format_table, run_matrix
from tests.e2e.vllm_server import venv_problem

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

REPORT = Path(__file__).resolve().parents[2] / ".cache" / "e2e" / "matrix.md"


def test_fault_matrix(tmp_path):
    problem = venv_problem(models=("tiny-llama",))
    if problem:
        pytest.skip(problem)
    backend = real_backend(reuse_servers=True)
    start = time.monotonic()
    try:
        rows = run_matrix(backend, tmp_path)
    finally:
        backend.close()
    failed = [r for r in rows if not r.passed]
    table = format_table(rows)
    # The table keeps each error's first 80 characters; a failed row's whole error and its log's end say why.
    details = "".join(
        f"\n{r.fault.name} / {r.policy}:\n{r.result.error}\n" + "\n".join(r.result.log.splitlines()[-40:]) + "\n"
        for r in failed
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(
        f"{table}\n\nvLLM start: {backend.startup_seconds}\nwall time: {time.monotonic() - start:.0f}s\n"
        f"{len(rows) - len(failed)} passed, {len(failed)} failed\n{details}"
    )
    assert len(rows) == 78  # 26 faults × 3 policies
    assert not failed, table + details


@pytest.mark.subset  # test_fault_matrix runs these rows too: `make e2e` leaves this re-run out
@pytest.mark.parametrize("fault", PLACEMENT_FAULTS, ids=lambda f: f.name.split(": ", 1)[1].replace(" ", "-"))
def test_placement_rows(fault, tmp_path):
    """Only the placement rows (issue 21), each under every policy: ``pytest -k test_placement_rows``."""
    problem = venv_problem(models=("tiny-llama",))
    if problem:
        pytest.skip(problem)
    backend = real_backend(reuse_servers=True)
    try:
        rows = run_matrix(backend, tmp_path, faults=[fault], workers=1)
    finally:
        backend.close()
    assert all(r.passed for r in rows), format_table(rows)
