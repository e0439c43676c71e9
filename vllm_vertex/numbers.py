"""Numbers as JSON sends them: one number type, so an integer may arrive as ``1.0``.

A module of its own so that a step needing only this (check-verdict) embeds only this and the error model.
"""

from __future__ import annotations

from typing import Any

from vllm_vertex.errors import ConfigError

__all__ = ["whole_number"]


def whole_number(name: str, value: Any) -> Any:
    """``value`` with a whole float (``1.0``) made an int; a float with a fraction is a ``ConfigError`` naming ``name``.

    JSON has one number type, so a backend, the console or a run file may send an integer as ``1.0``.
    Anything else is returned unchanged, for the type checks to judge.
    """
    if isinstance(value, float):
        if not value.is_integer():
            raise ConfigError([(name, f"must be a whole number, got {value!r}.")])
        return int(value)
    return value
