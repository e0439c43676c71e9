"""The deployment configuration: one typed record, its validation and its JSON form.

Pure: no I/O, no cloud. The same ``validate`` runs at compile time (``compile.py``, the CLI)
and in the pipeline's first step, so a value typed into the Vertex console is held to the
same rules as one in a config file.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field

from vllm_vertex import hardware
from vllm_vertex.recipes import DEFAULT_IMAGE, get_preset

__all__ = [
    "ConfigError",
    "DeploymentConfig",
    "TEARDOWN_POLICIES",
    "closest",
    "from_preset",
    "is_google_serving_image",
    "label_problems",
    "secret_problems",
    "validate",
    "warnings",
    "whole_number",
]

TEARDOWN_POLICIES = ("always", "on_failure", "never")
DTYPES = ("auto", "bfloat16", "float16", "half", "float32", "float")
SECRET_VERSION_RE = re.compile(r"^projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}/versions/(latest|[1-9][0-9]*)\Z")
HF_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*\Z")
GCS_RE = re.compile(r"^gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9](/.*)?\Z")
# Project IDs: 6-30 lowercase letters, digits and hyphens, starting with a letter (optionally "domain.com:");
# a project number works too.
PROJECT_RE = re.compile(r"^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\Z|^[0-9]{6,20}\Z")
EMAIL_RE = re.compile(r"^[a-z0-9][a-z0-9._+-]*@[a-z0-9][a-z0-9.-]*\.[a-z]{2,}\Z")
IMAGE_URL_RE = re.compile(
    r"^(https?://[^\s/<>\"'`]+[^\s<>\"'`]*|gs://[a-z0-9][a-z0-9._-]+/[^\s<>\"'`]+|data:image/[a-z0-9.+-]+;base64,\S+)\Z"
)


class ConfigError(ValueError):
    """Bad input. ``problems`` lists every (field, message) found, each message with its fix."""

    def __init__(self, problems: list[tuple[str, str]]):
        from vllm_vertex.redact import mask

        # Messages may quote a refused value: anything credential-shaped is masked, on every path.
        self.problems = [(mask(name), mask(msg)) for name, msg in problems]
        problems = self.problems
        lines = [f"- {name}: {msg}" for name, msg in problems]
        super().__init__("invalid deployment configuration:\n" + "\n".join(lines))


@dataclass
class DeploymentConfig:
    """Everything one deployment needs. Field docs live in the pipeline's docstring."""

    project: str = ""
    region: str = "us-central1"
    model_id: str = ""
    multimodal: bool = False
    serving_image: str = DEFAULT_IMAGE
    allow_custom_serving_image: bool = False
    machine_type: str = "g2-standard-12"
    accelerator_type: str = "NVIDIA_L4"
    accelerator_count: int = 1
    min_replica_count: int = 1
    max_replica_count: int = 1
    spot: bool = False
    service_account: str = ""
    dedicated_endpoint: bool = False
    gpu_memory_utilization: float = 0.9
    max_model_len: int = 4096
    max_num_seqs: int = 256
    dtype: str = "auto"
    swap_space_gib: int = 16
    max_loras: int = 1
    max_cpu_loras: int = 8
    trust_remote_code: bool = False
    enforce_eager: bool = True
    enable_lora: bool = False
    enable_prefix_caching: bool = False
    enable_chunked_prefill: bool = False
    model_type: str = ""
    chat_template: str = ""
    extra_vllm_args: list[str] = field(default_factory=list)
    hf_token_secret: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    teardown_policy: str = "on_failure"
    deploy_timeout_seconds: int = 7200
    block_on_plan_risk: bool = False
    run_image_checks: bool = False
    run_chat_checks: bool = True
    smoke_prompt: str = "What is a car?"
    smoke_image_url: str = "https://images.pexels.com/photos/1254140/pexels-photo-1254140.jpeg"
    smoke_image_prompt: str = "<|begin_of_text|><|image|>This is a picture of"
    smoke_max_tokens: int = 64
    probe_profile: str = "off"
    probe_slo: str = ""

    @property
    def tensor_parallel_size(self) -> int:
        """vLLM's tensor parallel size: one shard per GPU of the replica."""
        return self.accelerator_count

    def to_json(self) -> str:
        """Serializes to a JSON string (the form that travels between pipeline steps)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DeploymentConfig:
        """Parses ``to_json`` output; unknown keys are an error."""
        data = json.loads(text)
        return from_dict(data)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(DeploymentConfig))
INT_FIELDS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(DeploymentConfig) if f.type in ("int", int))


def whole_number(name: str, value):
    """``value`` with a whole float (``1.0``) made an int; a float with a fraction is a ``ConfigError`` naming ``name``.

    JSON has one number type, so a backend, the console or a run file may send an integer as ``1.0``.
    Anything else is returned unchanged, for the type checks to judge.
    """
    if isinstance(value, float):
        if not value.is_integer():
            raise ConfigError([(name, f"must be a whole number, got {value!r}.")])
        return int(value)
    return value


def _whole_numbers(data: dict) -> dict:
    """``data`` with every integer field passed through ``whole_number``; every bad one is reported at once."""
    out, problems = dict(data), []
    for key in INT_FIELDS & set(data):
        try:
            out[key] = whole_number(key, data[key])
        except ConfigError as err:
            problems += err.problems
    if problems:
        raise ConfigError(sorted(problems))
    return out


def from_dict(data: dict) -> DeploymentConfig:
    """Builds a config from a dict; unknown keys raise ``ConfigError`` naming the closest field.

    Integer fields take whole floats (``1.0``); one with a fraction is refused by name.
    """
    unknown = [k for k in data if k not in FIELD_NAMES]
    if unknown:
        raise ConfigError([(k, f"unknown field.{closest(k, FIELD_NAMES)}") for k in unknown])
    return DeploymentConfig(**_whole_numbers(data))


def from_preset(preset: str, **overrides) -> DeploymentConfig:
    """A config from a named preset with ``overrides`` applied on top (not validated)."""
    try:
        recipe = get_preset(preset)
    except KeyError as err:
        raise ConfigError([("preset", err.args[0])]) from None
    fields = recipe.as_dict()
    instruct = fields.pop("instruct")
    fields["run_image_checks"] = fields["multimodal"]
    fields["run_chat_checks"] = instruct
    fields.update(overrides)
    return from_dict(fields)


def closest(name: str, choices) -> str:
    """`` Did you mean 'x'?`` for the choice closest to ``name``, or an empty string."""
    import difflib

    choices = list(choices)
    by_case = {c.lower(): c for c in choices}  # nvidia_l4 → NVIDIA_L4, US-CENTRAL1 → us-central1
    close = difflib.get_close_matches(str(name).lower(), list(by_case), n=1)
    return f" Did you mean {by_case[close[0]]!r}?" if close else ""


def validate(cfg: DeploymentConfig, *, require_project: bool = True) -> DeploymentConfig:
    """Checks every field; raises ``ConfigError`` listing all problems with their fixes."""
    problems: list[tuple[str, str]] = []
    checks = (_check_location, secret_problems, _check_model, _check_hardware, _check_parallelism, _check_engine,
              _check_run)
    for check in checks:
        problems.extend(check(cfg))
    if require_project and not cfg.project:
        problems.append(("project", "is empty. Set the Google Cloud project ID that will own the endpoint."))
    elif cfg.project and not PROJECT_RE.match(cfg.project):
        problems.append(("project", f"{cfg.project!r} is not a Google Cloud project ID (6-30 lowercase letters, "
                                    "digits and hyphens, starting with a letter), e.g. my-project-123."))
    if problems:
        raise ConfigError(problems)
    return cfg


def _check_location(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    if cfg.region not in hardware.VERTEX_REGIONS:
        hint = closest(cfg.region, hardware.VERTEX_REGIONS)
        return [("region", f"{cfg.region!r} is not a Vertex AI prediction region.{hint} Use e.g. 'us-central1'.")]
    return []


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def secret_problems(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    """A token pasted into any field would land in YAML, parameters and logs: one problem per such field."""
    from vllm_vertex.redact import find_secret

    out = []
    for f in dataclasses.fields(cfg):
        kinds = [k for s in _strings(getattr(cfg, f.name)) if (k := find_secret(s))]
        if kinds and f.name != "hf_token_secret":
            out.append(
                (
                    f.name,
                    f"holds what looks like a {kinds[0]} (not shown). Never put a credential in a parameter: "
                    "store a Hugging Face token in Secret Manager and pass its version as hf_token_secret.",
                )
            )
    return out


def _check_model(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    mid = cfg.model_id.strip()
    if not mid:
        out.append(("model_id", "is empty. Give a Hugging Face repo id (org/name) or a gs:// folder."))
    elif mid != cfg.model_id:
        out.append(("model_id", f"{cfg.model_id!r} starts or ends with whitespace or a line break: write it as "
                                f"{mid!r}."))  # fmt: skip
    elif not (HF_ID_RE.match(mid) or GCS_RE.match(mid)):
        out.append(("model_id", f"{mid!r} is neither a Hugging Face repo id (org/name) nor a gs://bucket/folder."))
    if cfg.hf_token_secret and not SECRET_VERSION_RE.match(cfg.hf_token_secret):
        hint = ""
        from vllm_vertex.redact import find_secret

        if cfg.hf_token_secret.startswith("hf_") or find_secret(cfg.hf_token_secret):
            hint = " It looks like a token itself: store it in Secret Manager and pass the version's name instead."
        out.append(
            (
                "hf_token_secret",
                "must be a Secret Manager secret version name, "
                f"projects/PROJECT/secrets/NAME/versions/(latest|N).{hint}",
            )
        )
    if cfg.run_image_checks and not cfg.multimodal:
        out.append(
            ("run_image_checks", "image checks asked for a text-only model. Set multimodal=true or turn them off.")
        )
    if not cfg.serving_image:
        out.append(("serving_image", "is empty. Use Google's vLLM serving image, e.g. " + DEFAULT_IMAGE))
    elif not (is_google_serving_image(cfg.serving_image) or cfg.allow_custom_serving_image):
        out.append((
            "serving_image",
            f"{cfg.serving_image[:200]!r} is not one of Google's vLLM serving images ({GOOGLE_SERVING_REPOSITORY}/"
            "...), and the serving container receives the HF token. Use Google's image, e.g. " + DEFAULT_IMAGE
            + ", or set allow_custom_serving_image: true if you trust this image with the token.",
        ))  # fmt: skip
    return out


# Google's vLLM serving images (Model Garden): pytorch-vllm-serve (the presets) and vllm-serve-gpu.
GOOGLE_SERVING_REPOSITORY = "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers"
_GOOGLE_SERVING_IMAGE = re.compile(
    re.escape(GOOGLE_SERVING_REPOSITORY) + r"/[a-z0-9][a-z0-9._-]*(?::\w[\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)


def is_google_serving_image(image: str) -> bool:
    """True for an image of Google's vLLM serving repository (any image there, any tag or digest)."""
    return bool(_GOOGLE_SERVING_IMAGE.fullmatch(image))


def warnings(cfg: DeploymentConfig) -> list[str]:
    """What a valid configuration should still tell its user (a custom serving image receives the HF token)."""
    if cfg.serving_image and not is_google_serving_image(cfg.serving_image):
        token = "the HF token from hf_token_secret" if cfg.hf_token_secret else "any HF token you add later"
        return [f"warning: serving_image {cfg.serving_image[:200]} is not Google's vLLM serving image; it runs with "
                f"{token} in its environment (allow_custom_serving_image is set)."]  # fmt: skip
    return []


def _check_hardware(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    machine = hardware.MACHINE_TYPES.get(cfg.machine_type)
    if machine is None:
        hint = closest(cfg.machine_type, hardware.MACHINE_TYPES)
        out.append(("machine_type", f"{cfg.machine_type!r} is not a GPU machine type Vertex serves on.{hint}"))
    if cfg.accelerator_type not in hardware.ACCELERATORS:
        hint = closest(cfg.accelerator_type, hardware.ACCELERATORS)
        out.append(("accelerator_type", f"{cfg.accelerator_type!r} is unknown.{hint}"))
    elif machine is not None and machine.accelerator_type != cfg.accelerator_type:
        out.append(
            (
                "accelerator_type",
                f"{cfg.machine_type} carries {machine.accelerator_type}, not {cfg.accelerator_type}. "
                f"Use accelerator_type={machine.accelerator_type} or a machine type for {cfg.accelerator_type}.",
            )
        )
    elif machine is not None and cfg.accelerator_count not in machine.accelerator_counts:
        counts = ", ".join(map(str, machine.accelerator_counts))
        out.append(("accelerator_count", f"{cfg.machine_type} takes {counts} GPU(s), not {cfg.accelerator_count}."))
    if cfg.service_account and not EMAIL_RE.match(cfg.service_account):
        out.append(
            ("service_account", f"{cfg.service_account!r} is not a service account email, e.g. "
                                "NAME@PROJECT.iam.gserviceaccount.com (empty: Vertex's default).")
        )
    if cfg.min_replica_count < 1:
        out.append(("min_replica_count", "must be at least 1."))
    if cfg.max_replica_count < cfg.min_replica_count:
        out.append(("max_replica_count", f"must be ≥ min_replica_count ({cfg.min_replica_count})."))
    return out


def _check_parallelism(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    """What the model's own config rules out, when it ships with the package (the preflight reads the Hub's)."""
    from vllm_vertex import planner
    from vllm_vertex.planner.context import context_problem

    known = planner.shipped_config(cfg.model_id) if cfg.model_id else None
    if known is None or cfg.accelerator_count < 1:
        return []
    out = []
    problem = planner.tp_problem(planner.parse_model_config(known), cfg.accelerator_count)
    if problem:
        out.append(("accelerator_count", f"{problem} Pick a GPU count (and machine type) that divides them."))
    too_long = context_problem(known, cfg.max_model_len, cfg.model_id) if cfg.max_model_len > 0 else None
    if too_long:
        out.append(("max_model_len", too_long))
    return out


def _check_engine(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if not 0 < cfg.gpu_memory_utilization <= 1:
        out.append(("gpu_memory_utilization", f"{cfg.gpu_memory_utilization} is outside (0, 1]; 0.9 is usual."))
    for name in ("max_model_len", "max_num_seqs"):
        if getattr(cfg, name) <= 0:
            out.append((name, f"must be a positive integer, got {getattr(cfg, name)}."))
    if cfg.dtype not in DTYPES:
        out.append(("dtype", f"{cfg.dtype!r} is unknown; use one of {', '.join(DTYPES)}."))
    if cfg.swap_space_gib < 0:
        out.append(("swap_space_gib", "must be ≥ 0."))
    if cfg.max_loras < 1 or cfg.max_cpu_loras < cfg.max_loras:
        out.append(("max_loras", "max_loras must be ≥ 1 and max_cpu_loras ≥ max_loras."))
    out += [("extra_vllm_args", msg) for arg in cfg.extra_vllm_args if (msg := _extra_arg_problem(cfg, arg))]
    return out


def _extra_arg_problem(cfg: DeploymentConfig, arg: str) -> str:
    """What is wrong with one ``extra_vllm_args`` item, read the way vLLM's parser reads it ("" if nothing)."""
    from vllm_vertex import container
    from vllm_vertex.redact import mask

    arg = mask(arg)  # messages quote the argument: never a credential in it, however it is cut up
    name, value = container.flag_name(arg), container.flag_value(arg)
    if arg.startswith("-") and not arg.startswith("--") and name in container.SHORT_FLAGS.values():
        return f"{arg!r}: write the long form, {name}=VALUE (each entry is one --flag[=value])."
    if not arg.startswith("--"):
        return f"each entry must be one --flag[=value]; got {arg!r}."
    controlled = container.field_flags()
    # argparse also takes an unambiguous abbreviation (--max-model → --max-model-len).
    hits = [name] if name in controlled else [f for f in controlled if f.startswith(name) and len(name) > 4]
    if hits:
        field_name, given = controlled[hits[0]], re.split(r"[=\s]", arg.strip(), maxsplit=1)[0]
        spelled = "" if hits == [given] else f" (vLLM reads {given!r} as {hits[0]})"
        if not field_name:
            return f"{hits[0]}{spelled} is fixed by the serving container's contract; remove it."
        now = getattr(cfg, field_name)
        return (
            f"{hits[0]}{spelled} is already set from fields: {field_name} = {now!r} controls it. Set the field "
            "instead, so the plan and the checks see the value vLLM uses."
        )
    if name in ("--pipeline-parallel-size", "--data-parallel-size") and value not in (None, "1"):
        return (
            f"{name}={value}: a replica's {cfg.accelerator_count} GPU(s) all go to tensor parallelism "
            "(--tensor-parallel-size = accelerator_count); pipeline or data parallelism would need more GPUs "
            "than the replica has. Remove it and choose accelerator_count (and machine_type) instead."
        )
    if name == "--config":
        return "--config reads flags from a file the checks cannot see; put each flag in extra_vllm_args instead."
    if re.match(r"--[^=\s]+\s", arg):
        return f"{arg!r}: the container passes each entry as one argument; write {name}={value}."
    return ""


def _check_run(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if cfg.teardown_policy not in TEARDOWN_POLICIES:
        out.append(
            ("teardown_policy", f"{cfg.teardown_policy!r} is unknown; use one of {', '.join(TEARDOWN_POLICIES)}.")
        )
    if cfg.deploy_timeout_seconds < 10:
        out.append(
            ("deploy_timeout_seconds", "must be at least 10; a real deploy takes up to an hour (7200 is usual).")
        )
    if cfg.smoke_max_tokens <= 0:
        out.append(("smoke_max_tokens", "must be a positive integer."))
    elif cfg.max_model_len > 0 and cfg.smoke_max_tokens >= cfg.max_model_len:
        out.append(
            ("smoke_max_tokens", f"{cfg.smoke_max_tokens} leaves no room for the prompt within max_model_len "
                                 f"{cfg.max_model_len}; use fewer (64 is usual).")
        )
    if cfg.smoke_image_url and not IMAGE_URL_RE.match(cfg.smoke_image_url):
        out.append(
            ("smoke_image_url", f"{cfg.smoke_image_url[:80]!r} is not an image URL: give an https://, http://, gs:// "
                                "or data:image/...;base64, URL.")
        )
    elif cfg.run_image_checks and not cfg.smoke_image_url:
        out.append(("smoke_image_url", "is empty but run_image_checks is on: give the image to check with."))
    out.extend(_probe_problems(cfg))
    out.extend(label_problems("labels", cfg.labels, reserved=True))
    return out


def _probe_problems(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    """``probe_profile`` is a known profile; ``probe_slo`` parses; the capacity profile has an SLO."""
    from vllm_vertex.probe.slo import SloError, parse_slo
    from vllm_vertex.probe.workload import PROFILES

    out: list[tuple[str, str]] = []
    if cfg.probe_profile != "off" and cfg.probe_profile not in PROFILES:
        out.append(("probe_profile", f"{cfg.probe_profile!r} is unknown; use off, {', '.join(PROFILES)}."))
    try:
        slo = parse_slo(cfg.probe_slo)
    except SloError as err:
        out.append(("probe_slo", f"{err}."))
        return out
    if cfg.probe_profile == "capacity" and not slo:
        out.append(("probe_slo", "the capacity profile searches under an SLO: give one, e.g. p95_ttft_ms=500."))
    return out


def label_problems(field_name: str, labels: dict[str, str], reserved: bool = False) -> list[tuple[str, str]]:
    """Vertex label rules: keys and values of lowercase letters, digits, ``_`` and ``-``, ≤ 63 chars, ≤ 64 labels.

    With ``reserved`` (the labels of the resources a run creates), the keys the run sets itself are
    refused and they count towards the 64.
    """
    from vllm_vertex import naming

    out: list[tuple[str, str]] = []
    ours = [naming.RUN_LABEL_KEY, *naming.MANAGED_BY] if reserved else []
    taken = sorted(k for k in labels if k in ours)
    if taken:
        out.append((field_name, f"{', '.join(taken)} is set by vllm-vertex on every resource it creates (cleanup "
                                "finds them by it); use another key."))
    room = 64 - len(ours)
    if len(labels) > room:
        out.append((field_name, f"{len(labels)} labels; Vertex AI takes at most 64 per resource"
                                + (f" and vllm-vertex adds {len(ours)}, so at most {room}." if ours else ".")))
    for key, value in labels.items():
        if not re.match(r"^[a-z][a-z0-9_-]{0,62}\Z", key) or not re.match(r"^[a-z0-9_-]{0,63}\Z", value):
            out.append((field_name, f"{key}={value}: keys and values are lowercase letters, digits, _ and -, ≤ 63."))
    return out
