"""The deployment to check (:class:`PlanRequest`): validation and vLLM's defaults."""

from __future__ import annotations

from dataclasses import dataclass, replace

from vllm_vertex import hardware
from vllm_vertex.errors import PlanError
from vllm_vertex.planner._base import DTYPE_BYTES, KV_DTYPE_BYTES
from vllm_vertex.planner.memory import (
    DEFAULT_ENGINE,
    context_limit,
    default_max_num_batched_tokens,
    engine_profile,
    version_numbers,
)
from vllm_vertex.planner.model import ModelSpec

__all__ = ["MLLAMA_LAST_VLLM", "PlanRequest", "gpu_memory_gib", "kv_dtype_bytes", "resolve"]

# The last vLLM release that serves Llama 3.2 Vision (``MllamaForConditionalGeneration``): it ran only on
# the V0 engine (``SupportsV0Only``), which vLLM #24907 removed with every encoder-decoder but Whisper;
# from 0.11 vLLM refuses the architecture at start-up (``registry.py`` ``_PREVIOUSLY_SUPPORTED_MODELS``).
MLLAMA_LAST_VLLM = (0, 10)


@dataclass(frozen=True)
class PlanRequest:
    """The deployment to check (vLLM engine arguments + hardware).

    Attributes:
        accelerator_type: Vertex GPU enum (memory from ``hardware.ACCELERATORS``).
        accelerator_count: GPUs per replica = tensor parallel size.
        gpu_memory_gib: Memory CUDA reports per GPU; overrides the accelerator's (other hardware).
        machine_type: Vertex machine type; checks the accelerator type and count it offers.
        dtype: ``auto`` (config ``torch_dtype``), ``bfloat16``, ``float16`` or ``float32``.
        kv_cache_dtype: ``auto`` (= dtype) or ``fp8``.
        gpu_memory_utilization: vLLM ``--gpu-memory-utilization``, in (0, 1].
        max_model_len: vLLM ``--max-model-len``; ``None`` = the model's ``max_position_embeddings``.
        max_num_seqs: vLLM ``--max-num-seqs``.
        max_num_batched_tokens: ``None`` = vLLM V0's default (:func:`default_max_num_batched_tokens`).
        enforce_eager: vLLM ``--enforce-eager`` (no CUDA graphs).
        total_size: Checkpoint bytes (safetensors index ``metadata.total_size``); else counted from config.
        vllm_version: The serving image's vLLM (``0.11.2``) or engine profile (``v0``, ``v1-early``,
            ``v1``); ``auto`` = what ``recipes.DEFAULT_IMAGE`` carries. Picks the fitted non-KV model.
    """

    accelerator_type: str | None = None
    accelerator_count: int = 1
    gpu_memory_gib: float | None = None
    machine_type: str | None = None
    dtype: str = "auto"
    kv_cache_dtype: str = "auto"
    gpu_memory_utilization: float = 0.9
    max_model_len: int | None = None
    max_num_seqs: int = 256
    max_num_batched_tokens: int | None = None
    enforce_eager: bool = False
    total_size: int | None = None
    vllm_version: str = "auto"


def gpu_memory_gib(req: PlanRequest) -> float:
    """Per-GPU memory from the override or the accelerator table."""
    if req.gpu_memory_gib is not None:
        if req.gpu_memory_gib <= 0:
            raise PlanError("gpu_memory_gib must be > 0 (memory CUDA reports for one GPU, in GiB).")
        return float(req.gpu_memory_gib)
    if req.accelerator_type not in hardware.ACCELERATORS:
        known = ", ".join(sorted(hardware.ACCELERATORS))
        raise PlanError(
            f"accelerator_type {req.accelerator_type!r} is unknown; use one of {known}, "
            "or pass gpu_memory_gib for other hardware."
        )
    return hardware.ACCELERATORS[req.accelerator_type].memory_gib


def _check_machine(req: PlanRequest) -> None:
    """The machine type (when given) carries this accelerator type and count."""
    if req.machine_type is None:
        return
    machine = hardware.MACHINE_TYPES.get(req.machine_type)
    if machine is None:
        raise PlanError(f"machine_type {req.machine_type!r} is unknown; use one of hardware.MACHINE_TYPES.")
    if req.accelerator_type and req.accelerator_type != machine.accelerator_type:
        raise PlanError(
            f"accelerator_type {req.accelerator_type!r} does not match machine_type {machine.name} "
            f"(it carries {machine.accelerator_type})."
        )
    if req.accelerator_count not in machine.accelerator_counts:
        raise PlanError(
            f"accelerator_count {req.accelerator_count} is not offered by {machine.name}; "
            f"use one of {list(machine.accelerator_counts)}."
        )


def resolve(spec: ModelSpec, req: PlanRequest) -> PlanRequest:
    """Validates the request and fills its defaults (dtype, max_model_len, batched tokens)."""
    if not isinstance(req.accelerator_count, int) or req.accelerator_count < 1:
        raise PlanError(f"accelerator_count must be an integer >= 1 (got {req.accelerator_count!r}).")
    if req.machine_type and not req.accelerator_type:
        req = replace(req, accelerator_type=hardware.MACHINE_TYPES.get(req.machine_type, req).accelerator_type)
    _check_machine(req)
    if not 0 < req.gpu_memory_utilization <= 1:
        raise PlanError(
            f"gpu_memory_utilization must be in (0, 1] (got {req.gpu_memory_utilization}); 0.9 is vLLM's default."
        )
    dtype = spec.torch_dtype if req.dtype == "auto" else req.dtype
    if dtype not in DTYPE_BYTES:
        raise PlanError(f"dtype {req.dtype!r} is unknown; use auto, bfloat16, float16 or float32.")
    if req.kv_cache_dtype != "auto" and req.kv_cache_dtype not in KV_DTYPE_BYTES:
        raise PlanError(f"kv_cache_dtype {req.kv_cache_dtype!r} is unknown; use auto or fp8.")
    version = DEFAULT_ENGINE if req.vllm_version in ("auto", "", None) else str(req.vllm_version)
    limit = context_limit(spec, version)
    max_len = req.max_model_len or limit
    if not isinstance(max_len, int) or max_len < 1 or max_len > limit:
        why = "the model's context"
        if limit < spec.context_limit:
            why = f"vLLM {version} caps Gemma 2 at its sliding window; vLLM >= 0.6.5 accepts {spec.context_limit}"
        raise PlanError(f"max_model_len {max_len!r} must be 1..{limit} ({why}).")
    if not isinstance(req.max_num_seqs, int) or req.max_num_seqs < 1:
        raise PlanError(f"max_num_seqs must be an integer >= 1 (got {req.max_num_seqs!r}).")
    engine = engine_profile(version).name
    release = version_numbers(version)[:2]  # () or (major,) for a profile name
    if spec.cross_attention_layers and (engine == "v1" or (len(release) == 2 and release > MLLAMA_LAST_VLLM)):
        which = f"vLLM {version}" if len(release) == 2 else "the v1 engine profile (vLLM >= 0.17)"
        raise PlanError(
            f"{which} does not serve Llama 3.2 Vision (Mllama): vLLM refuses the architecture after 0.10.2 "
            "(it ran only on the V0 engine, removed in 0.11). Serve it with an image carrying vLLM 0.10.2 or "
            "older (the Vision presets' pytorch-vllm-serve:20241210_0916_RC00), or plan with --vllm-version 0.10.2."
        )
    total = gpu_memory_gib(req)
    a100 = str(req.accelerator_type or "").startswith(("NVIDIA_TESLA_A100", "NVIDIA_A100"))
    batched = req.max_num_batched_tokens or default_max_num_batched_tokens(
        max_len, spec.vision is not None, engine, total, a100
    )
    if batched < 1:
        raise PlanError("max_num_batched_tokens must be >= 1.")
    return replace(req, dtype=dtype, max_model_len=max_len, max_num_batched_tokens=batched, vllm_version=version)


def kv_dtype_bytes(req: PlanRequest) -> int:
    """Bytes of one KV element."""
    return KV_DTYPE_BYTES.get(req.kv_cache_dtype, DTYPE_BYTES[req.dtype])
