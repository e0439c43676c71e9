"""Prints the end-to-end fault matrix, when a run produced one, at the end of the session."""

from pathlib import Path

MATRIX = Path(__file__).resolve().parent.parent / ".cache" / "e2e" / "matrix.md"


def pytest_sessionstart(session):
    MATRIX.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    if MATRIX.exists():
        terminalreporter.section("fault matrix (tests/e2e/test_fault_matrix.py)")
        terminalreporter.write_line(MATRIX.read_text())
