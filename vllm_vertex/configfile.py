"""Run files: one reviewed YAML file describes a deployment, how it is submitted and scheduled.

Pure except ``load``, which reads the file. Layout::

    preset: llama-3.1-8b-instruct        # optional starting point (vllm_vertex/recipes.py)
    project: my-project                  # required (the CLI fills it from gcloud's defaults when absent)
    region: us-central1                  # required (likewise)
    max_model_len: 8192                  # any DeploymentConfig field overrides the preset
    hf_token_secret: projects/my-project/secrets/hf-token/versions/latest
    pipeline:                            # how the run is submitted (not pipeline parameters)
      pipeline_root: gs://my-bucket/pipeline-root   # required to submit or schedule
      service_account: runner@my-project.iam.gserviceaccount.com
      network: projects/123456/global/networks/default
      display_name: nightly-llama
      labels: {team: ml}
    schedule:                            # only for `vllm-vertex schedule create`
      cron: "TZ=Europe/Paris 0 3 * * *"
      max_concurrent_runs: 1
    canary:                              # only for the canary pipeline
      endpoint: projects/my-project/locations/us-central1/endpoints/123

Types are checked, never coerced (an int where a float is expected is the one widening
allowed); value ranges are checked by ``config.validate``, the rules the pipeline applies.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import typing
from dataclasses import dataclass, field

from vllm_vertex import config as cfgmod
from vllm_vertex import redact
from vllm_vertex.config import DeploymentConfig
from vllm_vertex.errors import ConfigError
from vllm_vertex.redact import mask

__all__ = [
    "CanarySettings",
    "from_console",
    "PipelineSettings",
    "RunFile",
    "ScheduleSettings",
    "load",
    "looks_like_token",
    "parse",
    "read_yaml",
    "require_canary",
    "require_schedule",
    "require_submission",
    "type_problems",
    "validate_cron",
]

_NETWORK_RE = re.compile(r"^projects/[0-9]+/global/networks/[a-z0-9-]+\Z")
_ENDPOINT_RE = re.compile(r"^(projects/[^/\s]+/locations/[^/\s]+/endpoints/)?[0-9]+\Z")
_SA_RE = re.compile(r"^[^@\s]+@[^@\s]+\.iam\.gserviceaccount\.com\Z|^[^@\s]+@developer\.gserviceaccount\.com\Z")


@dataclass
class PipelineSettings:
    """How a run is submitted.

    Attributes:
        pipeline_root: ``gs://`` folder for the run's artifacts (required to submit or schedule).
        service_account: Service account the pipeline's steps run as (not the deployed model's).
        network: VPC network to peer, ``projects/NUMBER/global/networks/NAME``.
        display_name: Display name of runs; defaults to the pipeline name.
        labels: Labels on the PipelineJob (the deployed resources take the top-level ``labels``).
        image: Prebuilt runtime image every step runs on (``image/Dockerfile``); empty: GCPC's image,
            with each step installing its pinned clients when it starts.
    """

    pipeline_root: str = ""
    service_account: str = ""
    network: str = ""
    display_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    image: str = ""


@dataclass
class ScheduleSettings:
    """A cron schedule of the run.

    Attributes:
        cron: Five-field cron expression, optionally prefixed ``TZ=Area/City``.
        display_name: Name of the schedule; defaults to the run's display name.
        max_concurrent_runs: Most runs of the schedule at once.
        max_runs: Stop after this many runs; 0 for no limit.
    """

    cron: str = ""
    display_name: str = ""
    max_concurrent_runs: int = 1
    max_runs: int = 0


@dataclass
class CanarySettings:
    """The endpoint the canary pipeline checks.

    Attributes:
        endpoint: ``projects/P/locations/L/endpoints/E`` or the numeric endpoint ID.
    """

    endpoint: str = ""


@dataclass
class RunFile:
    """A parsed, validated run file."""

    config: DeploymentConfig
    pipeline: PipelineSettings
    schedule: ScheduleSettings
    canary: CanarySettings
    preset: str = ""


_SECTIONS: dict[str, type] = {"pipeline": PipelineSettings, "schedule": ScheduleSettings, "canary": CanarySettings}
_TOP_KEYS = ("preset", *_SECTIONS, *cfgmod.FIELD_NAMES)


def load(path: str, overrides: dict | None = None,
         defaults: typing.Callable[[dict], dict] | None = None) -> RunFile:
    """Reads and validates a run file, with ``overrides`` (e.g. from command-line options) applied.

    Args:
        path: The YAML file.
        overrides: Top-level keys to set, and sections (``{"canary": {"endpoint": ...}}``) to update;
            ``None`` and empty values are ignored.
        defaults: Called with the file's mapping (overrides applied) before validation; returns it with
            the values neither gave filled in (the CLI: project and region as gcloud finds them).

    Raises:
        ConfigError: the file is missing, is not YAML, or any value is wrong (all problems listed).
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise ConfigError([("file", f"cannot read {path}: {err.strerror}.")]) from None
    except UnicodeDecodeError:
        raise ConfigError([("file", f"{path} is not UTF-8 text.")]) from None
    data = _merge(read_yaml(text, path), overrides or {})
    if defaults is not None and isinstance(data, dict):
        data = defaults(data)
    return parse(data)


def read_yaml(text: str, path: str = "the run file") -> object:
    """Parses YAML 1.2 strictly: a key given twice in one mapping is an error naming both lines.

    ruamel.yaml refuses duplicate keys (PyYAML keeps the last one silently, so a reviewed
    ``teardown_policy: always`` followed by ``teardown_policy: never`` would run as ``never``).

    Raises:
        ConfigError: the text is not YAML, or a mapping repeats a key.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import DuplicateKeyError
    from ruamel.yaml.error import YAMLError

    loader = YAML(typ="safe", pure=True)
    try:
        return _acyclic(loader.load(text), path)
    except DuplicateKeyError as err:
        raise ConfigError([_duplicate_problem(loader, text, err, path)]) from None
    except YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        why = mask(getattr(err, "problem", None) or str(err))
        raise ConfigError([("file", f"{path} is not valid YAML{line}: {why}.")]) from None


_MAX_DEPTH = 32  # a run file nests three levels; deeper is a mistake or an alias bomb
_MAX_VALUES = 100_000  # aliases can repeat a list exponentially ("billion laughs")


def _acyclic(data: object, path: str) -> object:
    """``data`` when no alias makes it contain itself, it nests at most ``_MAX_DEPTH`` levels and it holds at
    most ``_MAX_VALUES`` values once aliases are expanded.

    Raises:
        ConfigError: a recursive alias (``&a [*a]``), nesting too deep, or too many values.
    """
    count = 0
    stack: list[tuple[object, int, tuple[int, ...]]] = [(data, 0, ())]
    while stack:
        value, depth, inside = stack.pop()
        count += 1
        if not isinstance(value, dict | list):
            continue
        why = ("an alias refers to the list or mapping that contains it" if id(value) in inside
               else f"values nest deeper than {_MAX_DEPTH} levels" if depth > _MAX_DEPTH
               else f"it holds over {_MAX_VALUES:,} values once its aliases are expanded" if count > _MAX_VALUES
               else "")  # fmt: skip
        if why:
            raise ConfigError([("file", f"{path}: {why}. Write the values out instead of using YAML aliases.")])
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1, (*inside, id(value))) for child in children)
    return data


def _duplicate_problem(loader, text: str, err, path: str) -> tuple[str, str]:
    """The repeated key with the lines of every occurrence, found in the document's node tree."""
    second = (err.problem_mark.line, err.problem_mark.column)
    found = _find_mapping(loader.compose(text), err.context_mark)
    keys = [(k.value, (k.start_mark.line, k.start_mark.column)) for k, _ in found.value] if found is not None else []
    key = next((k for k, at in keys if at == second), None)  # line and column: a flow mapping is on one line
    if key is None:  # not located (should not happen): fall back on ruamel's own text
        return "file", f"{path}: {mask(err.problem)} at line {second[0] + 1}. Give each key once."
    places = [at for k, at in keys if k == key]
    if len({line for line, _ in places}) == 1:  # a flow mapping or a JSON file on one line
        where = f"line {places[0][0] + 1}, columns " + _listed([column + 1 for _, column in places])
    else:
        where = "lines " + _listed([line + 1 for line, _ in places])
    return (
        "file",
        f"{path}: key {mask(str(key))!r} is given {len(places)} times in one mapping, at {where}. "
        "Keep one: YAML would otherwise silently use the last.",
    )


def _listed(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"


def _find_mapping(node, mark):
    """The mapping node that starts at ``mark`` (where ruamel says the duplicate is)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if node is None:
        return None
    if isinstance(node, MappingNode):
        if node.start_mark.line == mark.line and node.start_mark.column == mark.column:
            return node
        children = [c for pair in node.value for c in pair]
    elif isinstance(node, SequenceNode):
        children = node.value
    else:
        return None
    return next((m for c in children if (m := _find_mapping(c, mark)) is not None), None)


def _merge(data: object, overrides: dict) -> object:
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key, value in overrides.items():
        if isinstance(value, dict):
            given = {k: v for k, v in value.items() if v}
            if given:
                current = out.get(key)
                section = current if isinstance(current, dict) else {}
                out[key] = {**section, **given}
        elif value:
            out[key] = value
    return out


def parse(data: object) -> RunFile:
    """Validates the parsed YAML of a run file; raises ``ConfigError`` listing every problem."""
    if not isinstance(data, dict):
        raise ConfigError([("file", "must be a YAML mapping of keys to values (see examples/).")])
    problems = _shape_problems(data)
    if problems:
        raise ConfigError(problems)
    fields = {k: _widen(DeploymentConfig, k, v) for k, v in data.items() if k in cfgmod.FIELD_NAMES}
    fields.update(_machine_implies(fields))
    preset = data.get("preset", "")
    cfg = cfgmod.from_preset(preset, **fields) if preset else cfgmod.from_dict(fields)
    sections = {name: cls(**data.get(name, {})) for name, cls in _SECTIONS.items()}
    run = RunFile(config=cfg, preset=preset, **sections)
    problems = _value_problems(run, data)
    if problems:
        raise ConfigError(_first_per_field(problems))
    return run


def _machine_implies(fields: dict) -> dict:
    """The GPU a known ``machine_type`` carries, and its count when it has one, unless the file gives them.

    As ``plan --machine-type`` does: ``machine_type: a2-highgpu-1g`` alone means 1× NVIDIA_TESLA_A100.
    """
    from vllm_vertex import hardware

    name = fields.get("machine_type")
    machine = hardware.MACHINE_TYPES.get(name) if isinstance(name, str) else None
    if machine is None:
        return {}
    out: dict[str, object] = {} if "accelerator_type" in fields else {"accelerator_type": machine.accelerator_type}
    if "accelerator_count" not in fields and len(machine.accelerator_counts) == 1:
        out["accelerator_count"] = machine.accelerator_counts[0]
    return out


def _shape_problems(data: dict) -> list[tuple[str, str]]:
    """Unknown keys, wrong types, tokens in plain text; nothing about ranges yet."""
    out = _unknown(data, _TOP_KEYS, "")
    if "preset" in data and not isinstance(data["preset"], str):
        out.append(("preset", f"must be a string (a preset name), got {_kind(data['preset'])}."))
    known = {k: v for k, v in data.items() if k in cfgmod.FIELD_NAMES}
    out += _type_problems(DeploymentConfig, known, "")
    for name, cls in _SECTIONS.items():
        section = data.get(name, {})
        if not isinstance(section, dict):
            out.append((name, f"must be a mapping of keys to values, got {_kind(section)}."))
            continue
        allowed = [f.name for f in dataclasses.fields(cls)]
        out += _unknown(section, allowed, f"{name}.")
        out += _type_problems(cls, {k: v for k, v in section.items() if k in allowed}, f"{name}.")
    out += _token_problems(data, "")
    return out


def _unknown(data: dict, allowed, prefix: str) -> list[tuple[str, str]]:
    return [(f"{prefix}{k}", f"unknown key.{cfgmod.closest(str(k), allowed)}") for k in data if k not in allowed]


def _type_problems(cls: type, values: dict, prefix: str) -> list[tuple[str, str]]:
    hints = _hints(cls)
    out = []
    for key, value in values.items():
        expected = hints[key]
        if value is None:
            out.append((f"{prefix}{key}", "has no value. Set one or remove the key."))
        elif not _is_type(value, expected):
            fix = _type_fix(expected, value)
            item = _wrong_item(value, expected)
            if item:
                fix = f" {item}{fix}"
            if expected is bool and isinstance(value, str) and value.lower() in ("yes", "no", "on", "off", "y", "n"):
                fix = " YAML 1.2 reads yes/no/on/off as text: write true or false."
            out.append((f"{prefix}{key}", f"must be {_describe(expected)}, got {_kind(value)}.{fix}"))
    return out


@functools.cache
def _hints(cls: type) -> dict[str, object]:
    """The declared type of each field of ``cls``, a closed set (``Literal``) read as its type, ``str``.

    Whether a value is one of the set is ``config.validate``'s to say, with the closest choice.
    """
    return {k: str if typing.get_origin(v) is typing.Literal else v for k, v in typing.get_type_hints(cls).items()}


def from_console(values: dict) -> DeploymentConfig:
    """The validated config from pipeline parameter values (typed into the Vertex console, or defaults).

    Console values arrive as JSON: a label value may be a number or null, an ``extra_vllm_args``
    item a dict, a whole number a float. Whole floats become ints; any other wrong type is a
    ``ConfigError`` naming the field (never a raw ``TypeError``).
    """
    hints = _hints(DeploymentConfig)
    problems = type_problems(values)
    if problems:
        raise ConfigError(problems)
    fields = {k: _widen(DeploymentConfig, k, v) if k in hints else v for k, v in values.items()}
    return cfgmod.validate(cfgmod.from_dict(fields))


def type_problems(values: dict) -> list[tuple[str, str]]:
    """Wrong types among ``DeploymentConfig`` values, each naming its field."""
    return _type_problems(DeploymentConfig, {k: v for k, v in values.items() if k in cfgmod.FIELD_NAMES}, "")


def _wrong_item(value: object, expected) -> str:
    """Which entry of a list or mapping has the wrong type, e.g. ``'team' has int 2.``"""
    origin = typing.get_origin(expected)
    if origin is list and isinstance(value, list):
        bad = [(i, v) for i, v in enumerate(value) if not _is_item(v, expected)]
        return f"Item {bad[0][0]} is {_kind(bad[0][1])}." if bad else ""
    if origin is dict and isinstance(value, dict):
        bad = [(k, v) for k, v in value.items() if not (isinstance(k, str) and isinstance(v, str))]
        if not bad:
            return ""
        key, item = bad[0]
        return f"Key {key!r} has {_kind(item)}." if isinstance(key, str) else f"A key is {_kind(key)}."
    return ""


def _mapping_items(expected) -> bool:
    """True for a list of mappings (``placements``), false for a list of strings."""
    args = typing.get_args(expected)
    return bool(args) and typing.get_origin(args[0]) is dict


def _is_item(value: object, expected) -> bool:
    """One item of a list field: a string, or for a list of mappings a mapping of names to plain values."""
    if not _mapping_items(expected):
        return isinstance(value, str)
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in value.items()
    )


def _is_type(value: object, expected) -> bool:
    origin = typing.get_origin(expected)
    if origin is list:
        return isinstance(value, list) and all(_is_item(v, expected) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:  # a whole float (1.0) is an integer: JSON has one number type
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    return isinstance(value, expected)


def _describe(expected) -> str:
    origin = typing.get_origin(expected)
    if origin is list:
        return "a list of mappings" if _mapping_items(expected) else "a list of strings"
    if origin is dict:
        return "a mapping of strings to strings"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[expected]


def _type_fix(expected, value: object = None) -> str:
    if typing.get_origin(expected) is list and _mapping_items(expected):
        return " Write each item as a mapping of plain values, e.g. {region: us-east4, spot: true}."
    if typing.get_origin(expected) is list:
        return ' Write each flag as one string, e.g. "--max-num-batched-tokens=8192".'
    if typing.get_origin(expected) is dict:
        return ' Quote values YAML reads as numbers or booleans, e.g. version: "2".'
    if expected is int and isinstance(value, float):
        return " Write a whole number."
    if expected in (int, float, bool):
        return " Write it without quotes."
    return ' Quote it, e.g. "0.1".'


def _kind(value: object) -> str:
    if isinstance(value, str) and looks_like_token(value):
        return "a string that looks like a credential (not shown)"
    return mask(f"{type(value).__name__} {value!r}")[:80]


def _widen(cls: type, key: str, value: object) -> object:
    """An int given for a float field becomes that float, a whole float for an int field that int."""
    expected = _hints(cls)[key]
    if expected is float and isinstance(value, int | float):
        return float(value)
    return cfgmod.whole_number(key, value) if expected is int else value


def looks_like_token(value: str) -> bool:
    """A Hugging Face token (``hf_...``), a Google access token or another credential written in plain text."""
    return redact.looks_like_token(value)


def _token_problems(data: object, path: str) -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _token_problems(v, f"{path}{k}" if not path else f"{path}.{k}")]
    if isinstance(data, list):
        return [p for v in data for p in _token_problems(v, path)]
    if isinstance(data, str) and looks_like_token(data):
        return [
            (
                path or "file",
                "looks like a token written in plain text. Never put a token in a run file: store it in "
                "Secret Manager and set hf_token_secret: projects/PROJECT/secrets/NAME/versions/latest.",
            )
        ]
    return []


def _value_problems(run: RunFile, data: dict) -> list[tuple[str, str]]:
    out = [(k, f"is missing. {why}") for k, why in _REQUIRED.items() if not data.get(k)]
    try:
        cfgmod.validate(run.config)
    except ConfigError as err:
        out += err.problems
    out += _pipeline_problems(run.pipeline)
    if run.schedule.cron:
        out += _cron_problems(run.schedule.cron)
    if run.schedule.max_concurrent_runs < 1 or run.schedule.max_runs < 0:
        out.append(("schedule.max_concurrent_runs", "must be at least 1 (and max_runs at least 0)."))
    if run.canary.endpoint and not _ENDPOINT_RE.match(run.canary.endpoint):
        out.append(("canary.endpoint", "must be projects/P/locations/L/endpoints/ID or the numeric endpoint ID."))
    return out


_REQUIRED = {
    "project": "Set the Google Cloud project ID, e.g. project: my-project.",
    "region": "Set the Vertex AI region, e.g. region: us-central1.",
}


IMAGE_RE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+(:\w[\w.-]{0,127})?(@sha256:[0-9a-f]{64})?\Z")


def image_problems(name: str, image: str) -> list[tuple[str, str]]:
    """A prebuilt runtime image URI that is not one, as a (field, message) problem."""
    if not image or IMAGE_RE.match(image):
        return []
    return [(name, f"{image!r} is not a container image URI; use the one image/cloudbuild.yaml printed, "
                   "e.g. us-central1-docker.pkg.dev/PROJECT/vllm-vertex/vllm-vertex-steps:gcpc-2.22.0.")]


def _pipeline_problems(p: PipelineSettings) -> list[tuple[str, str]]:
    out = cfgmod.label_problems("pipeline.labels", p.labels) + image_problems("pipeline.image", p.image)
    if p.pipeline_root and not cfgmod.GCS_RE.match(p.pipeline_root):
        out.append(("pipeline.pipeline_root", "must be a gs://bucket/folder for the run's artifacts."))
    if p.network and not _NETWORK_RE.match(p.network):
        out.append(("pipeline.network", "must be projects/PROJECT_NUMBER/global/networks/NAME."))
    if p.service_account and not _SA_RE.match(p.service_account):
        out.append(
            ("pipeline.service_account", "must be a service account email, NAME@PROJECT.iam.gserviceaccount.com.")
        )
    return out


def _first_per_field(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for name, msg in problems:
        seen.setdefault(name, msg)
    return list(seen.items())


def validate_cron(expression: str) -> str:
    """Returns ``expression`` when it is a five-field cron, optionally ``TZ=``/``CRON_TZ=`` prefixed.

    Raises:
        ConfigError: naming what is wrong and an example that works.
    """
    problems = _cron_problems(expression)
    if problems:
        raise ConfigError(problems)
    return expression


def _cron_problems(expression: str) -> list[tuple[str, str]]:
    from croniter import croniter

    example = ' Example: "0 3 * * *" (03:00 every day) or "TZ=America/New_York 0 3 * * 1-5".'
    tz, rest = "", expression.strip()
    if rest.startswith(("TZ=", "CRON_TZ=")):
        tz, _, rest = rest.partition(" ")
    if tz and not _known_zone(tz.split("=", 1)[1]):
        return [("schedule.cron", f"{tz!r} is not an IANA time zone.{example}")]
    fields = rest.split()
    if len(fields) != 5:
        layout = " ".join(name for name, _ in CRON_FIELDS)
        return [("schedule.cron", f"{expression!r} has {len(fields)} field(s); a cron has five: {layout}.{example}")]
    for i, (name, allowed) in enumerate(CRON_FIELDS):
        alone = " ".join(f if j == i else "*" for j, f in enumerate(fields))
        if not croniter.is_valid(alone):
            return [("schedule.cron", f"{fields[i]!r} is not a valid {name} field: {name} takes {allowed}.{example}")]
    if not croniter.is_valid(rest):
        return [("schedule.cron", f"{expression!r} is not a valid five-field cron expression.{example}")]
    return []


# The five fields of a cron expression and the values each takes (croniter's rules, as Vertex's).
CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-6 (0 = Sunday) or sun-sat"),
)


def _known_zone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def require_submission(run: RunFile) -> RunFile:
    """Checks what submitting needs beyond a valid file: a pipeline root."""
    if not run.pipeline.pipeline_root:
        raise ConfigError(
            [("pipeline.pipeline_root", "is missing. Set a gs://bucket/folder where runs write their artifacts.")]
        )
    return run


def require_schedule(run: RunFile) -> RunFile:
    """Checks what a schedule needs: a pipeline root and a cron expression."""
    require_submission(run)
    if not run.schedule.cron:
        raise ConfigError([("schedule.cron", 'is missing. Set e.g. cron: "0 3 * * *" or pass --cron.')])
    return run


def require_canary(run: RunFile) -> RunFile:
    """Checks what the canary needs: the endpoint to check."""
    if not run.canary.endpoint:
        raise ConfigError([("canary.endpoint", "is missing. Set the endpoint to check, or pass --endpoint.")])
    return run
