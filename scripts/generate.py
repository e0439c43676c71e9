"""Writes what is generated from the parameters' one declaration (``vllm_vertex.config.DeploymentConfig``).

``make generate`` (``python scripts/generate.py``) after changing a parameter; ``tests/test_parameter_lists.py``
fails until the files are current. It writes:

- the parameter lists of the steps that take pipeline parameters, ``components/validate_config.py`` (all of
  them) and ``components/read_endpoint.py`` (the smoke tests' subset): the signature lines between the two
  marker comments, and the docstring's ``Args`` entries of those parameters. A lightweight step runs its
  function's source text in the container, so its parameters must be real code, not a ``__signature__``
  set at import (the pipelines' are: ``pipelines/signatures.py``);
- ``schema/run-file.schema.json``, the run file's JSON Schema (``parameters.run_file_schema``);
- the README's parameter table, between its two marker comments.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vllm_vertex.parameters import PARAMETERS, SMOKE, by_name  # noqa: E402

SCHEMA = ROOT / "schema" / "run-file.schema.json"
README = ROOT / "README.md"
BEGIN_PARAMS = "    # Generated from vllm_vertex.config.DeploymentConfig by `make generate`: do not edit.\n"
END_PARAMS = "    # End of generated parameters.\n"
README_BEGIN = "<!-- Generated from vllm_vertex/config.py by `make generate`: do not edit. -->\n"
README_END = "<!-- End of generated parameters. -->\n"
# Each step's file → the parameters it takes, in order.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "components/validate_config.py": tuple(p.name for p in PARAMETERS),
    "components/read_endpoint.py": SMOKE,
}
# The compiled YAMLs whose defaults the README table shows (pipelines.compiling.DEPLOY_TARGETS).
TABLE_PRESETS = {"text": "llama-3.1-8b-instruct", "multimodal": "llama-3.2-11b-vision-instruct"}
_KFP_TYPES = {str: "string", int: "integer", float: "double", bool: "boolean", list: "list", dict: "struct"}


def render_component(text: str, names: tuple[str, ...]) -> str:
    """``text`` (a step's module) with the parameters ``names`` written into its signature and docstring."""
    head, begin, rest = text.partition(BEGIN_PARAMS)
    _, end, tail = rest.partition(END_PARAMS)
    if not (begin and end):
        raise ValueError(f"the marker comments {BEGIN_PARAMS.strip()!r} and {END_PARAMS.strip()!r} are missing")
    signature = "".join(f"    {n}: {by_name(n).type.__name__},\n" for n in names)
    text = head + BEGIN_PARAMS + signature + END_PARAMS + tail
    lines = text.splitlines(keepends=True)
    start = lines.index("    Args:\n") + 1
    stop = start
    entry = re.compile(r"^        (\w+):")
    while stop < len(lines) and (
        ((m := entry.match(lines[stop])) and m[1] in names) or (lines[stop].startswith(" " * 12) and stop > start)
    ):
        stop += 1
    docs = [
        textwrap.fill(f"{n}: {by_name(n).help}", 120, initial_indent=" " * 8, subsequent_indent=" " * 12) + "\n"
        for n in names
    ]
    return "".join(lines[:start] + docs + lines[stop:])


def _value(value: object) -> str:
    """A default as the table shows it: code spans, long values cut to their last path part."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if value == "":
        return '""'
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    if len(text) > 48 and "/" in text:
        text = "…/" + text.rsplit("/", 1)[1]
    return "`" + text.replace("|", "\\|") + "`"


def render_table() -> str:
    """The README's parameter table: name, type (and choices), the compiled YAMLs' defaults, description."""
    from pipelines.compiling import pipeline_arguments
    from vllm_vertex.config import from_preset

    defaults = {kind: pipeline_arguments(from_preset(preset)) for kind, preset in TABLE_PRESETS.items()}
    rows = ["| parameter | type | text default | multimodal default | meaning |\n", "|---|---|---|---|---|\n"]
    for p in PARAMETERS:
        kind = _KFP_TYPES[p.type]
        if p.choices and len(p.choices) <= 8:
            kind += ": " + ", ".join(f"`{c}`" for c in p.choices)
        text, multimodal = (defaults[k][p.name] for k in TABLE_PRESETS)
        # compile_pipeline leaves an empty project without a default: the console asks for it.
        first = "none: required" if p.name == "project" and not text else _value(text)
        second = "=" if multimodal == text else _value(multimodal)
        rows.append(f"| `{p.name}` | {kind} | {first} | {second} | {p.help.replace('|', chr(92) + '|')} |\n")
    return "".join(rows)


def render_readme(text: str) -> str:
    """``text`` (the README) with the generated table between its markers."""
    head, begin, rest = text.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not (begin and end):
        raise ValueError("the README's parameter table markers are missing")
    return head + README_BEGIN + render_table() + README_END + tail


def render_schema() -> str:
    """The text of ``schema/run-file.schema.json``."""
    from vllm_vertex.parameters import run_file_schema

    return json.dumps(run_file_schema(), indent=2, ensure_ascii=False) + "\n"


def outputs() -> dict[pathlib.Path, str]:
    """Every generated file and the text it must have."""
    out = {ROOT / path: render_component((ROOT / path).read_text(encoding="utf-8"), names)
           for path, names in COMPONENTS.items()}
    out[README] = render_readme(README.read_text(encoding="utf-8"))
    out[SCHEMA] = render_schema()
    return out


def main() -> int:
    # The steps' signatures first: the README table compiles the pipelines, which call those steps.
    for path, names in COMPONENTS.items():
        text = render_component((ROOT / path).read_text(encoding="utf-8"), names)
        if (ROOT / path).read_text(encoding="utf-8") != text:
            (ROOT / path).write_text(text, encoding="utf-8")
    for path, text in outputs().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
