"""Pipeline signatures and docstrings built from the parameters' one declaration (``vllm_vertex.parameters``).

A pipeline body takes the declared parameters as ``**params`` and names only its own ones
(the canary's ``endpoint``). ``declared`` gives it, at import, the ``__signature__`` and the
``__doc__`` KFP compiles: KFP's ``dsl.pipeline`` reads the parameters from
``inspect.signature`` (which honours ``__signature__``) and their console descriptions from
the docstring's ``Args`` (``inspect.getdoc``), then calls the function once with a channel per
parameter, positionally. A pipeline's source never runs in a step, so nothing is written out.

Steps are different: a lightweight component runs its function's source text in the container,
so ``validate-config`` and ``read-endpoint`` spell their parameters out in code, written by
``make generate`` (``scripts/generate.py``) from the same declaration.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from vllm_vertex.parameters import by_name

__all__ = ["args_lines", "declared", "parameters"]


def parameters(names: tuple[str, ...]) -> list[inspect.Parameter]:
    """The declared parameters ``names`` as signature parameters, typed the way KFP reads them, no defaults."""
    return [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=by_name(n).type) for n in names]


def args_lines(names: tuple[str, ...], indent: str = " " * 8) -> list[str]:
    """The docstring ``Args`` entries of ``names``, one line each: the console's descriptions."""
    return [f"{indent}{n}: {by_name(n).help}\n" for n in names]


def declared(*names: str) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Decorator: the body takes the declared parameters ``names`` through ``**params``.

    The result's signature is ``names`` (in that order), then the body's own parameters; its
    docstring is the body's, with the ``Args`` of ``names`` put before the body's own ``Args``.
    Called with the signature's arguments (KFP passes them positionally), it calls the body with
    keywords.
    """

    def wrap(body: Callable[..., object]) -> Callable[..., object]:
        own = [p for p in inspect.signature(body).parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        signature = inspect.Signature(parameters(names) + own)

        @functools.wraps(body)
        def pipeline(*args: object, **kwargs: object) -> object:
            return body(**signature.bind(*args, **kwargs).arguments)

        pipeline.__signature__ = signature  # type: ignore[attr-defined]
        head, args_title, rest = (body.__doc__ or "").partition("    Args:\n")
        pipeline.__doc__ = head + "    Args:\n" + "".join(args_lines(names)) + rest if args_title else (
            head + "\n    Args:\n" + "".join(args_lines(names))
        )
        return pipeline

    return wrap
