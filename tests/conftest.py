"""Shared fixtures (the Vertex stand-in), and the end-to-end fault matrix printed at the end of the session."""

from pathlib import Path

import pytest

MATRIX = Path(__file__).resolve().parent.parent / ".cache" / "e2e" / "matrix.md"


def pytest_sessionstart(session):
    MATRIX.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    if MATRIX.exists():
        terminalreporter.section("fault matrix (tests/e2e/test_fault_matrix.py)")
        terminalreporter.write_line(MATRIX.read_text())


@pytest.fixture
def standin():
    """A fresh Vertex stand-in with the fake model backend; every response it sent matched its schema.

    Test files that need another set-up (a backend with timing, quotas, faults) define their own ``standin``.
    """
    from tests.standin import FakeBackend, VertexStandin

    with VertexStandin(FakeBackend(), health_timeout=5) as s:
        yield s
        assert s.response_errors == []
