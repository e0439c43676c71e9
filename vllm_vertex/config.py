"""The deployment configuration: one typed record, its validation and its JSON form.

Pure: no I/O, no cloud. The same ``validate`` runs at compile time (``compile.py``, the CLI)
and in the pipeline's first step, so a value typed into the Vertex console is held to the
same rules as one in a config file.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from vllm_vertex import hardware, vllm_flags
from vllm_vertex.errors import ConfigError
from vllm_vertex.numbers import whole_number
from vllm_vertex.recipes import DEFAULT_IMAGE, get_preset

__all__ = [
    "DTYPES",
    "DeploymentConfig",
    "Dtype",
    "ProbeProfile",
    "ReservationAffinity",
    "TEARDOWN_POLICIES",
    "TeardownPolicy",
    "closest",
    "from_preset",
    "is_google_serving_image",
    "label_problems",
    "param",
    "secret_problems",
    "validate",
    "warnings",
    "whole_number",
]

# The closed sets among the parameters: plain strings in JSON, run files and presets, checked by ``validate``.
TeardownPolicy = Literal["always", "on_failure", "never"]
Dtype = Literal["auto", "bfloat16", "float16", "half", "float32", "float"]
ProbeProfile = Literal["off", "quick", "standard", "capacity"]  # "off" and probe.workload.PROFILES
ReservationAffinity = Literal["", "any", "specific", "none"]  # "": not set (Vertex's default)
TEARDOWN_POLICIES: tuple[str, ...] = get_args(TeardownPolicy)
DTYPES: tuple[str, ...] = get_args(Dtype)
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


def param(default: Any, help: str, *, choices: Iterable[str] = (), parameter: str = "") -> Any:
    """Declares one pipeline parameter: a ``DeploymentConfig`` field with its default and description.

    The field's annotation is the parameter's type (a ``Literal`` is a closed set of strings);
    ``help`` is the one description, the console's, that the pipeline docstrings, the run-file
    JSON Schema and the README table are generated from (``vllm_vertex.parameters``).

    Args:
        default: The default value; a list or dict is copied for every instance.
        help: The console's description of the parameter.
        choices: The closed set of allowed values when a table holds it (regions, machine types);
            a ``Literal`` annotation gives its own.
        parameter: The pipeline parameter's name when it differs from the field's (``location``).
    """
    metadata = {"help": help, "choices": tuple(sorted(choices)), "parameter": parameter}
    if isinstance(default, list | dict):
        return field(default_factory=functools.partial(copy.copy, default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DeploymentConfig:
    """Everything one deployment needs: the declaration of every pipeline parameter (see ``param``)."""

    project: str = param("", "Google Cloud project ID that owns the endpoint and model.")
    region: str = param(
        "us-central1", "Vertex AI region, e.g. us-central1.", choices=hardware.VERTEX_REGIONS, parameter="location"
    )
    model_id: str = param("", "Hugging Face repo id (org/name) or a gs:// folder with the weights.")
    model_revision: str = param(
        "", "Hugging Face revision to deploy: a branch, tag or commit; empty for the repo's default branch. The run "
        "records the commit it resolved to."
    )
    stage_weights_to: str = param(
        "", "gs://bucket/prefix to stage the weights in before the upload (recommended): the Model then loads them "
        "from Cloud Storage, with no HF token in its environment. Empty: the container downloads from the Hub."
    )
    multimodal: bool = param(False, "The model takes images as well as text (Llama 3.2 Vision).")
    serving_image: str = param(
        DEFAULT_IMAGE, "Google's vLLM serving container image (Vision presets keep an older tag)."
    )
    allow_custom_serving_image: bool = param(
        False, "Allow a serving_image outside Google's vLLM serving repository (it receives the HF token in its "
        "environment)."
    )
    machine_type: str = param(
        "g2-standard-12", "Machine type of one replica, e.g. g2-standard-12.", choices=hardware.MACHINE_TYPES
    )
    accelerator_type: str = param(
        "NVIDIA_L4", "GPU type, e.g. NVIDIA_L4; must be the one the machine type carries.",
        choices=hardware.ACCELERATORS,
    )
    accelerator_count: int = param(1, "GPUs per replica; also vLLM's tensor parallel size.")
    min_replica_count: int = param(1, "Minimum number of replicas.")
    max_replica_count: int = param(1, "Maximum number of replicas; quota is charged for these.")
    spot: bool = param(False, "Deploy on spot VMs (checked against the Preemptible GPU quota).")
    reservation_affinity: ReservationAffinity = param(
        "", "Which Compute Engine reservations the replicas may consume: any, specific (reservation_name) or none; "
        "empty: Vertex's default."
    )
    reservation_name: str = param(
        "", "The reservation of reservation_affinity specific: projects/P/zones/Z/reservations/R."
    )
    flex_start_hours: int = param(
        0, "Deploy with flex-start (Dynamic Workload Scheduler): GPUs for at most this many hours; 0: off."
    )
    required_replica_count: int = param(
        0, "The deploy succeeds once this many replicas are up (Vertex's requiredReplicaCount); 0: all of "
        "min_replica_count."
    )
    placements: list[dict[str, Any]] = param(
        [], "Fallback placements tried in order when GPUs run out (stockout, or quota gone since the check). Each "
        "overrides only the keys it names: region, machine_type, accelerator_type, accelerator_count, spot, "
        "reservation, reservation_affinity, flex_start_hours. Empty: only the fields above."
    )
    placement_timeout_seconds: int = param(
        14400, "How long all placements together may take, cleanups included; each attempt is also bounded by "
        "deploy_timeout_seconds."
    )
    service_account: str = param("", "Service account the deployed model runs as; empty for Vertex's default.")
    dedicated_endpoint: bool = param(False, "Create a dedicated endpoint (own DNS, streaming, longer timeouts).")
    gpu_memory_utilization: float = param(0.9, "Fraction of GPU memory vLLM may use, in (0, 1].")
    max_model_len: int = param(4096, "Longest sequence (prompt + output) vLLM serves.")
    max_num_seqs: int = param(256, "Most sequences vLLM batches at once (12 for Llama 3.2 Vision).")
    dtype: Dtype = param("auto", "Weights dtype: auto, bfloat16, float16 or float32.")
    swap_space_gib: int = param(16, "CPU swap space per GPU, GiB.")
    max_loras: int = param(1, "Most LoRA adapters in one batch.")
    max_cpu_loras: int = param(8, "Most LoRA adapters kept in CPU memory.")
    enforce_eager: bool = param(True, "Disable CUDA graphs (less memory, slower decoding).")
    trust_remote_code: bool = param(False, "Let vLLM run the model repo's own code.")
    enable_lora: bool = param(False, "Serve LoRA adapters (the container's dynamic-lora).")
    enable_prefix_caching: bool = param(False, "Reuse the KV cache of shared prompt prefixes.")
    enable_chunked_prefill: bool = param(False, "Split long prefills into chunks.")
    model_type: str = param("", "Google container's --model-type (e.g. llama3.1); empty for none.")
    chat_template: str = param("", "vLLM --chat-template for tokenizers without one; empty for the tokenizer's.")
    extra_vllm_args: list[str] = param([], 'More vLLM flags, each "--flag=value"; fields above may not be repeated.')
    hf_token_secret: str = param(
        "", "Secret Manager version of the Hugging Face token, projects/P/secrets/S/versions/V; empty for public "
        "or gs:// models. Never the token."
    )
    labels: dict[str, str] = param({}, "Labels added to every created resource.")
    teardown_policy: TeardownPolicy = param(
        "on_failure", "always (delete after the smoke tests), on_failure (keep a passing deployment, delete "
        "otherwise) or never (keep everything)."
    )
    keep_for_hours: int = param(
        0, "Hours a kept deployment may live: its endpoint gets the label vllm-vertex-keep-until=<epoch seconds> "
        "and `vllm-vertex teardown --expired` removes it after that; 0: no limit."
    )
    deploy_timeout_seconds: int = param(7200, "How long to wait for the deploy before failing.")
    block_on_plan_risk: bool = param(
        False, 'Preflight fails when the capacity plan is "at risk" (max_model_len within the planner\'s error '
        "band of the predicted KV cache); false only warns."
    )
    run_image_checks: bool = param(False, "Run the image+text checks (multimodal models only).")
    run_chat_checks: bool = param(True, "Run the OpenAI chat-completions checks (needs a chat template).")
    smoke_prompt: str = param("What is a car?", "Prompt of the text checks.")
    smoke_image_url: str = param(
        "https://images.pexels.com/photos/1254140/pexels-photo-1254140.jpeg", "Image URL of the image checks."
    )
    smoke_image_prompt: str = param(
        "<|begin_of_text|><|image|>This is a picture of", "Predict-route prompt of the image check."
    )
    smoke_max_tokens: int = param(64, "Tokens generated per smoke check.")
    probe_profile: ProbeProfile = param(
        "off", "Load probe after smoke tests that passed: off, quick (about 1 min), standard (about 5 min) or "
        "capacity (standard levels and a search for the highest concurrency within the SLO)."
    )
    probe_slo: str = param(
        "", "SLO of the probe, key=value pairs separated by commas, e.g. "
        "p95_ttft_ms=500,p95_tpot_ms=50,max_error_rate=0.01; a miss fails the run after the report is written. "
        "Empty: measure without a gate."
    )

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
    checks = (_check_location, secret_problems, _check_model, _check_hardware, _check_capacity, _check_placements,
              _check_parallelism, _check_engine, _check_run)
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
    out = []
    if cfg.serving_image and not is_google_serving_image(cfg.serving_image):
        token = "the HF token from hf_token_secret" if cfg.hf_token_secret else "any HF token you add later"
        out.append(f"warning: serving_image {cfg.serving_image[:200]} is not Google's vLLM serving image; it runs "
                   f"with {token} in its environment (allow_custom_serving_image is set).")  # fmt: skip
    from vllm_vertex.vllm_known_flags import unchecked_warning

    return out + (unchecked_warning(cfg.serving_image) if cfg.extra_vllm_args else [])


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


RESERVATION_RE = re.compile(
    r"^projects/[^/\s]+/zones/[a-z]+-[a-z]+[0-9]+-[a-z]/reservations/[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?\Z"
)
REVISION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}\Z")
RESERVATION_AFFINITIES: tuple[str, ...] = get_args(ReservationAffinity)


def _check_capacity(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    """Where the GPUs come from: reservation, flex-start, required replicas, the fallback ladder's bound."""
    out: list[tuple[str, str]] = []
    if cfg.reservation_affinity not in RESERVATION_AFFINITIES:
        out.append(("reservation_affinity", f"{cfg.reservation_affinity!r} is unknown; use any, specific, none or "
                                            "leave it empty."))
    if cfg.reservation_affinity == "specific" and not RESERVATION_RE.match(cfg.reservation_name):
        out.append(("reservation_name", f"{cfg.reservation_name[:200]!r} is not a reservation name: reservation_"
                                        "affinity specific needs projects/P/zones/Z/reservations/R."))
    elif cfg.reservation_name and cfg.reservation_affinity != "specific":
        out.append(("reservation_name", "is set but reservation_affinity is not specific: set reservation_affinity: "
                                        "specific, or remove reservation_name."))
    if not 0 <= cfg.flex_start_hours <= 168:
        out.append(("flex_start_hours", f"{cfg.flex_start_hours} is out of range: 0 (off) to 168 (7 days)."))
    if not 0 <= cfg.required_replica_count <= cfg.min_replica_count:
        out.append(("required_replica_count", f"{cfg.required_replica_count} must be 0 (all) to min_replica_count "
                                              f"({cfg.min_replica_count})."))
    if cfg.placement_timeout_seconds < cfg.deploy_timeout_seconds:
        out.append(("placement_timeout_seconds", f"{cfg.placement_timeout_seconds} is shorter than one attempt "
                                                 f"(deploy_timeout_seconds {cfg.deploy_timeout_seconds}): give at "
                                                 "least that."))
    from vllm_vertex.capacity import combination_problems  # here: steps that only read a config do not carry it

    out += combination_problems(cfg)
    if cfg.model_revision and (not REVISION_RE.match(cfg.model_revision) or ".." in cfg.model_revision):
        out.append(("model_revision", f"{cfg.model_revision[:120]!r} is not a branch, tag or commit name."))
    if cfg.stage_weights_to and not GCS_RE.match(cfg.stage_weights_to.rstrip("/")):
        out.append(("stage_weights_to", f"{cfg.stage_weights_to[:200]!r} is not a gs://bucket[/prefix] folder."))
    return out


def _check_placements(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    """Every fallback placement, as the candidate it makes (``vllm_vertex.placements``)."""
    from vllm_vertex import placements as placement_rules  # not "placements": the field's name is reached

    return placement_rules.problems(cfg)


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
    from vllm_vertex.redact import mask

    arg = mask(arg)  # messages quote the argument: never a credential in it, however it is cut up
    name, value = vllm_flags.flag_name(arg), vllm_flags.flag_value(arg)
    if arg.startswith("-") and not arg.startswith("--") and name in vllm_flags.SHORT_FLAGS.values():
        return f"{arg!r}: write the long form, {name}=VALUE (each entry is one --flag[=value])."
    if not arg.startswith("--"):
        return f"each entry must be one --flag[=value]; got {arg!r}."
    controlled = vllm_flags.field_flags()
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
    from vllm_vertex.vllm_known_flags import unknown_flag_problem

    google = is_google_serving_image(cfg.serving_image)
    if unknown := unknown_flag_problem(name, cfg.serving_image, google_image=google):
        return unknown
    if re.match(r"--[^=\s]+\s", arg):
        return f"{arg!r}: the container passes each entry as one argument; write {name}={value}."
    return ""


def _check_run(cfg: DeploymentConfig) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if cfg.teardown_policy not in TEARDOWN_POLICIES:
        out.append(
            ("teardown_policy", f"{cfg.teardown_policy!r} is unknown; use one of {', '.join(TEARDOWN_POLICIES)}.")
        )
    if not 0 <= cfg.keep_for_hours <= 8760:
        out.append(("keep_for_hours", f"{cfg.keep_for_hours} is out of range: give 0 (no limit) to 8760 (a year)."))
    elif cfg.keep_for_hours and cfg.teardown_policy == "always":
        out.append(("keep_for_hours", "teardown_policy always keeps nothing: use on_failure or never, or leave "
                                      "keep_for_hours at 0."))
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
    from vllm_vertex.errors import SloError
    from vllm_vertex.probe.slo import parse_slo
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
    taken = sorted(k for k in labels if k in ours or (reserved and k == naming.KEEP_UNTIL_KEY))
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
