"""Shared fixtures (the virtual clock, the Vertex stand-in), and the end-to-end fault matrix printed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.fakes.clock import VirtualClock

MATRIX = Path(__file__).resolve().parent.parent / ".cache" / "e2e" / "matrix.md"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "standin(**options): set-up of the `standin` fixture (the options of the `make_standin` factory)"
    )


def pytest_sessionstart(session):
    MATRIX.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    if MATRIX.exists():
        terminalreporter.section("fault matrix (tests/e2e/test_fault_matrix.py)")
        terminalreporter.write_line(MATRIX.read_text())


@pytest.fixture(autouse=True)
def virtual_clock(request) -> Iterator[VirtualClock | None]:
    """Product code waits (polls, backoff, teardown's busy waits) in virtual time: no quick-tier test sleeps.

    Stand-ins made by ``make_standin`` settle before time advances. End-to-end tests keep real time: their
    steps run in other processes against real vLLM, and their stand-in is not the factory's.
    """
    if request.node.get_closest_marker("e2e"):
        yield None
        return
    from vllm_vertex import clock

    with clock.use(VirtualClock()) as virtual:
        yield virtual


@pytest.fixture
def make_standin(virtual_clock, google_at) -> Iterator[Callable[..., object]]:
    """Factory of started Vertex stand-ins; at teardown each is stopped and, unless told otherwise, must have
    sent only responses that match Google's discovery documents.

    ``make_standin(backend=FakeBackend, *, quotas=None, secrets=None, deploy_stage=None, check_schema=True,
    health_timeout=5)``:

    - ``backend``: makes the serving backend (called once per stand-in), e.g. ``lambda: FakeBackend(chat_timing=t)``;
    - ``quotas``: quota ID -> limit (the region-less default entry), as ``set_quota``;
    - ``secrets``: secret name -> value, as ``add_secret``;
    - ``deploy_stage``: the stage a successful deploy operation ends with (``faults.deploy_stage``);
    - ``check_schema``: assert ``response_errors == []`` at teardown (every caller today leaves it on);
    - ``health_timeout``: seconds a deploy waits for the container's health route;
    - ``point``: make it the test's Google override (``google_at``: this process's clients and the steps and
      subprocesses it starts reach it); the last stand-in made with ``point`` wins.
    """
    from tests.standin import FakeBackend, VertexStandin

    made: list[tuple[VertexStandin, bool]] = []

    def make(
        backend: Callable[[], object] = FakeBackend,
        *,
        quotas: Mapping[str, int] | None = None,
        secrets: Mapping[str, str] | None = None,
        deploy_stage: str | None = None,
        check_schema: bool = True,
        health_timeout: float = 5,
        point: bool = True,
    ) -> VertexStandin:
        standin = VertexStandin(backend(), health_timeout=health_timeout)
        made.append((standin, check_schema))
        standin.start()
        if virtual_clock is not None:
            virtual_clock.settlers.append(standin.settle)
        for quota_id, limit in (quotas or {}).items():
            standin.set_quota(quota_id, limit)
        for name, value in (secrets or {}).items():
            standin.add_secret(name, value)
        standin.faults.deploy_stage = deploy_stage
        if point:
            google_at(standin.url)
        return standin

    try:
        yield make
    finally:
        for standin, _ in made:
            standin.stop()
    for standin, check_schema in made:
        if check_schema:
            assert standin.response_errors == []


@pytest.fixture
def standin(request, make_standin):
    """A fresh Vertex stand-in with the fake model backend; every response it sent matched its schema.

    A module (``pytestmark``), class or test that needs another set-up says so with
    ``@pytest.mark.standin(quotas=..., secrets=..., backend=...)``: the options of ``make_standin``.
    """
    marker = request.node.get_closest_marker("standin")
    return make_standin(**(marker.kwargs if marker else {}))


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
