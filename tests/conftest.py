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


@pytest.fixture
def google_at(monkeypatch):
    """``google_at(url, hf="")`` points every Google client (and with ``hf`` the Hub) of this test at stand-ins.

    Sets ``VLLM_VERTEX_API_ENDPOINT`` / ``VLLM_VERTEX_HF_ENDPOINT`` for the test (``vllm_vertex.cloud.context``
    reads them); kfp.local steps and subprocesses the test starts inherit them.
    """
    from vllm_vertex.cloud.context import API_ENDPOINT_ENV, HF_ENDPOINT_ENV

    def point(url: str = "", hf: str = "") -> None:
        if url:
            monkeypatch.setenv(API_ENDPOINT_ENV, url)
        if hf:
            monkeypatch.setenv(HF_ENDPOINT_ENV, hf)

    return point
