"""The pipeline parameters, read from their one declaration: the fields of ``config.DeploymentConfig``.

Each field is declared once with ``config.param``: name, type (its annotation; a ``Literal`` is a
closed set), default, choices and the console's description. Everything else that lists the
parameters is generated from :data:`PARAMETERS`:

- the pipelines' signatures and docstrings (``pipelines.signatures.declared``, built at import:
  KFP reads a pipeline's ``inspect.signature`` and ``__doc__`` and never runs its source);
- the signatures and docstrings of the steps that take parameters (``validate-config``,
  ``read-endpoint``), written into their source by ``make generate``: a step runs its function's
  source text, so there the signature must be real code; ``tests/test_parameter_lists.py`` fails
  when the files drift;
- the run file's JSON Schema (``run_file_schema``, published as ``schema/run-file.schema.json``);
  ``configfile``'s type checks read the same annotations, and a test holds the two to agree;
- the README's parameter table.

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass

from vllm_vertex.config import DeploymentConfig

__all__ = ["PARAMETERS", "SMOKE", "Parameter", "by_name", "field_schema", "kind", "run_file_schema"]


def kind(annotation: object) -> type:
    """The plain type of a declared annotation: ``str`` for a ``Literal`` of strings, ``list`` for ``list[str]``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return str
    plain = origin if origin is not None else annotation
    if not isinstance(plain, type):
        raise TypeError(f"{annotation!r} is not a parameter type")
    return plain


@dataclass(frozen=True)
class Parameter:
    """One pipeline parameter as declared.

    Attributes:
        name: The pipeline parameter's name (``location`` for the field ``region``).
        field: The ``DeploymentConfig`` field.
        annotation: The field's type, resolved (``str``, ``list[str]``, a ``Literal``...).
        default: The field's default (a fresh copy for a list or dict).
        choices: The closed set of values, or empty.
        help: The console's description.
    """

    name: str
    field: str
    annotation: object
    default: object
    choices: tuple[str, ...]
    help: str

    @property
    def type(self) -> type:
        """The Python type KFP reads from a signature: str, int, float, bool, list or dict."""
        return kind(self.annotation)


def _default(f: dataclasses.Field[object]) -> object:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def _read() -> tuple[Parameter, ...]:
    hints = typing.get_type_hints(DeploymentConfig)
    out = []
    for f in dataclasses.fields(DeploymentConfig):
        annotation = hints[f.name]
        literal = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
        default = _default(f)
        out.append(
            Parameter(
                name=f.metadata["parameter"] or f.name,
                field=f.name,
                annotation=annotation,
                default=default,
                choices=tuple(literal) or f.metadata["choices"],
                help=f.metadata["help"],
            )
        )
    return tuple(out)


PARAMETERS: tuple[Parameter, ...] = _read()

# What the smoke tests read: the canary pipeline's parameters (with the endpoint it checks).
SMOKE: tuple[str, ...] = (
    "project",
    "location",
    "model_id",
    "run_image_checks",
    "run_chat_checks",
    "smoke_prompt",
    "smoke_image_url",
    "smoke_image_prompt",
    "smoke_max_tokens",
)


def by_name(name: str) -> Parameter:
    """The parameter called ``name`` in the pipeline (``location``, not ``region``)."""
    for p in PARAMETERS:
        if p.name == name:
            return p
    raise KeyError(name)


def field_schema(annotation: object, help: str = "", default: object = dataclasses.MISSING,
                 choices: tuple[str, ...] = ()) -> dict[str, object]:
    """The JSON Schema of one value of type ``annotation`` (draft 2020-12)."""
    shapes: dict[type, dict[str, object]] = {
        str: {"type": "string"},
        bool: {"type": "boolean"},
        int: {"type": "integer"},
        float: {"type": "number"},
        list: {"type": "array", "items": {"type": "string"}},
        dict: {"type": "object", "additionalProperties": {"type": "string"}},
    }
    out = dict(shapes[kind(annotation)])
    items = typing.get_args(annotation)
    if kind(annotation) is list and items and typing.get_origin(items[0]) is dict:  # placements
        plain = {"type": ["string", "integer", "number", "boolean"]}
        out["items"] = {"type": "object", "additionalProperties": plain}
    if choices:
        out["enum"] = list(choices)
    if help:
        out["description"] = help
    if default is not dataclasses.MISSING:
        out["default"] = default
    return out


def run_file_schema() -> dict[str, object]:
    """The run file's JSON Schema (draft 2020-12), from the parameters' declaration and the sections' fields.

    Published as ``schema/run-file.schema.json`` (``make generate``) so editors check run files as
    they are typed. It says what ``configfile.parse`` checks first (keys, types, closed sets, required
    keys); value ranges and cross-field rules are ``config.validate``'s.
    """
    import docstring_parser

    from vllm_vertex import configfile
    from vllm_vertex.recipes import PRESETS

    properties: dict[str, dict[str, object]] = {
        "preset": {
            "type": "string",
            "enum": sorted(PRESETS),
            "description": "Starting point (vllm_vertex/recipes.py); every other key overrides it.",
        }
    }
    for p in PARAMETERS:
        properties[p.field] = field_schema(p.annotation, p.help, p.default, p.choices)
    for name, cls in configfile._SECTIONS.items():
        docs = {a.arg_name: " ".join((a.description or "").split()) for a in docstring_parser.parse(cls.__doc__).params}
        hints = typing.get_type_hints(cls)
        section = {
            f.name: field_schema(hints[f.name], docs.get(f.name, ""), _default(f)) for f in dataclasses.fields(cls)
        }
        properties[name] = {
            "type": "object",
            "description": (cls.__doc__ or "").strip().splitlines()[0],
            "properties": section,
            "additionalProperties": False,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "vllm-vertex run file",
        "description": "One deployment, how it is submitted and scheduled. Generated from vllm_vertex/config.py "
        "by `make generate`: do not edit.",
        "type": "object",
        "properties": properties,
        # No key is required: a run file without project or region takes gcloud's defaults (configfile.load_run).
        "required": [],
        "additionalProperties": False,
    }
