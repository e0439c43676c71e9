"""The e2e ``world`` fixture: stand-ins for Google and the Hub with real vLLM serving, one per test module."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "world(reuse_servers=False, models=('tiny-llama', 'tiny-llava'), replica=False, check_schema=True): "
        "set-up of the e2e `world` fixture",
    )


@pytest.fixture(scope="module")
def world(request, tmp_path_factory):
    """A started ``World`` for the module; skipped when the vLLM venv (or the image replica) is missing.

    Set up by the module's ``pytest.mark.world(...)``:

    - ``reuse_servers``: one vLLM server per model for the whole module (else each deploy starts its own);
    - ``models``: the tiny models the module needs (the skip reason names a missing one);
    - ``replica``: the module runs steps in the image replica (skipped without it);
    - ``check_schema``: at the end, every response the Vertex stand-in sent matched Google's discovery documents.
    """
    from tests.e2e.harness import World, real_backend
    from tests.e2e.replica import replica_problem
    from tests.e2e.vllm_server import venv_problem

    marker = request.node.get_closest_marker("world")
    options = marker.kwargs if marker else {}
    models = options.get("models", ("tiny-llama", "tiny-llava"))
    problem = (replica_problem() if options.get("replica", False) else "") or venv_problem(models=models)
    if problem:
        pytest.skip(problem)
    backend = real_backend(reuse_servers=options.get("reuse_servers", False))
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    try:
        with World(backend, tmp_path_factory.mktemp(name)) as world:
            yield world
    finally:
        backend.close()
    if options.get("check_schema", True):
        assert world.standin.response_errors == []
