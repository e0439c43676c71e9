"""Production and test variants of one pipeline body.

The offline tier points every client at local stand-ins through two hooks, ``api_endpoint``
and ``hf_endpoint``. They must never show in the console's form or in the YAML users run, so
each pipeline is compiled in two variants from one body: production (no hooks; the steps use
their own default, Google's and the Hub's real endpoints) and test (the hooks are pipeline
parameters, passed to every step).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from kfp import dsl

__all__ = ["TEST_HOOKS", "hooks", "production_and_test_variants"]

TEST_HOOKS = ("api_endpoint", "hf_endpoint")


def hooks(**given) -> dict:
    """The hooks to pass on to a step: pipeline channels in the test variant, nothing in production.

    In the production variant the body receives the plain default ``""``; in the test variant a
    pipeline parameter (a ``PipelineChannel``), which is passed to the step.
    """
    return {k: v for k, v in given.items() if not isinstance(v, str)}


def _without_hooks(body: Callable) -> Callable:
    """``body`` with the hook parameters (last in its signature, defaulted) removed from signature and docs."""
    signature = inspect.signature(body)
    kept = [p for p in signature.parameters.values() if p.name not in TEST_HOOKS]

    @functools.wraps(body)
    def production(*args, **kwargs):
        return body(*args, **kwargs)

    production.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]  # inspect reads it
    doc = body.__doc__ or ""
    lines = doc.splitlines(keepends=True)
    production.__doc__ = "".join(
        line for line in lines if not any(line.strip().startswith(f"{hook}:") for hook in TEST_HOOKS)
    )
    return production


def production_and_test_variants(body: Callable, name: str):
    """``(production, test)`` pipelines of ``body``; both carry the pipeline name ``name``."""
    return dsl.pipeline(name=name)(_without_hooks(body)), dsl.pipeline(name=name)(body)
