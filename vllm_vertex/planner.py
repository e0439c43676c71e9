"""Capacity planner: predicts vLLM's start-up memory verdict before a GPU is rented.

Pure core (stdlib only, no I/O) except :func:`load_model_config`, which reads the offline
``config.json`` copies shipped in ``vllm_vertex/model_configs``. The model follows vLLM's
start-up accounting (V0 engine, the one in the seed's serving container; docs/planner.md)::

    available_kv = gpu_memory_utilization * total - weights - peak_activation - non_torch
    kv_tokens    = floor(available_kv / (16 * kv_bytes_per_token)) * 16

and flags the seed's four deploy failures: weights that do not fit, a KV cache smaller than
``max_model_len``, the Mllama profiling OOM with ``max_num_seqs`` dummy images, and a tensor
parallel size that does not divide the attention heads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from vllm_vertex import hardware, recipes

__all__ = [
    "BLOCK_SIZE",
    "ModelSpec",
    "PlanError",
    "PlanRequest",
    "PlanResult",
    "QuantSpec",
    "Verdict",
    "VisionSpec",
    "default_max_num_batched_tokens",
    "kv_bytes_per_token",
    "load_model_config",
    "parse_model_config",
    "plan",
    "plan_preset",
    "checkpoint_total_size",
    "shipped_config",
    "tp_problem",
    "weight_bytes",
]

GIB = 1024**3
BLOCK_SIZE = 16  # vLLM's default KV block size (tokens), V0 and V1 on GPU.
NON_TORCH_GIB = 0.3  # cuBLAS workspace, allocator slack: 0.16-0.35 GiB in published profiles.
NON_TORCH_TP_EXTRA_GIB = 0.2  # NCCL and custom all-reduce buffers when TP > 1.
CUDA_CONTEXT_GIB = 0.5  # CUDA context per process; lives outside gpu_memory_utilization's budget.
CUDA_GRAPH_BASE_GIB = 0.25  # CUDA graph pool: fixed part ...
CUDA_GRAPH_PER_LAYER_GIB = 0.01  # ... plus a per-decoder-layer part (35 captured batch sizes).
LOGITS_BYTES = 4  # logits of the profiling batch are upcast to float32 by the sampler.
CHUNKED_PREFILL_THRESHOLD = 32768  # V0 turns chunked prefill on above this max_model_len (text models).
CHUNKED_PREFILL_TOKENS = 512  # V0's max_num_batched_tokens with chunked prefill.
DEFAULT_BATCHED_TOKENS = 2048  # V0 _DEFAULT_MAX_NUM_BATCHED_TOKENS.
MULTIMODAL_BATCHED_TOKENS = 5120  # V0 _MULTIMODAL_MODEL_MAX_NUM_BATCHED_TOKENS.

DTYPE_BYTES: dict[str, int] = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4}
KV_DTYPE_BYTES: dict[str, int] = {"fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1}
FP8_METHODS = frozenset({"fp8", "fbgemm_fp8"})
INT_METHODS = frozenset({"awq", "gptq", "awq_marlin", "gptq_marlin"})
_MODEL_CONFIG_DIR = Path(__file__).with_name("model_configs")


class Verdict(StrEnum):
    """What vLLM would do at start-up with this configuration."""

    OK = "ok"
    WEIGHTS_DO_NOT_FIT = "weights_do_not_fit"
    KV_CACHE_TOO_SMALL = "kv_cache_too_small"
    MULTIMODAL_PROFILE_RISK = "multimodal_profile_risk"
    TP_DOES_NOT_DIVIDE_HEADS = "tp_does_not_divide_heads"


class PlanError(ValueError):
    """Bad planner input; the message names the field and the fix."""


@dataclass(frozen=True)
class QuantSpec:
    """Weight quantization read from ``quantization_config``.

    Attributes:
        method: ``quant_method`` (``""`` for none).
        linear_bytes: Bytes per parameter of quantized linear layers (scales included).
        skip_attention_layers: Layers whose attention projections stay unquantized.
        skip_mlp_layers: Layers whose MLP projections stay unquantized.
    """

    method: str = ""
    linear_bytes: float = 0.0
    skip_attention_layers: frozenset[int] = frozenset()
    skip_mlp_layers: frozenset[int] = frozenset()


@dataclass(frozen=True)
class VisionSpec:
    """The vision tower of a multimodal config (``vision_config``).

    Attributes:
        hidden_size: Encoder width.
        intermediate_size: Encoder MLP width.
        num_layers: Encoder layers (local + global for Mllama).
        tiles: Tiles per image (Mllama ``max_num_tiles``; 1 otherwise).
        patches_per_tile: Tokens per tile incl. the class token (Mllama: 1601).
        kept_hidden_states: Hidden states alive during the encoder (intermediate layers + current).
        output_dim: Width of the vision output fed to the projector.
        mllama: Mllama-style tiled encoder (builds a tiles x patches square attention mask per image).
    """

    hidden_size: int
    intermediate_size: int
    num_layers: int
    tiles: int
    patches_per_tile: int
    kept_hidden_states: int
    output_dim: int
    mllama: bool

    @property
    def padded_patches_per_tile(self) -> int:
        """Tokens per tile as the Mllama encoder runs them (padded to a multiple of 8: 1608)."""
        return self.patches_per_tile + (8 - self.patches_per_tile % 8) % 8 if self.mllama else self.patches_per_tile


@dataclass(frozen=True)
class ModelSpec:
    """The figures of a model config the planner needs.

    Attributes:
        model_type: ``model_type`` of the (text) config.
        num_layers: Decoder layers (Mllama: self- and cross-attention layers).
        hidden_size: Decoder width.
        intermediate_size: Decoder MLP width (per expert for MoE).
        num_heads: Attention heads.
        num_kv_heads: KV heads (GQA); equals ``num_heads`` when absent.
        head_dim: Given or ``hidden_size // num_heads``.
        vocab_size: Vocabulary size.
        tie_word_embeddings: ``lm_head`` shares the embedding matrix.
        max_position_embeddings: The model's longest context.
        torch_dtype: Checkpoint dtype.
        num_experts: MoE experts per layer (1 for dense).
        experts_per_token: MoE experts each token visits.
        qkv_bias: The q/k/v projections have a bias (Qwen2).
        cross_attention_layers: Mllama cross-attention layer count.
        quant: Quantization of the checkpoint.
        vision: The vision tower, if any.
    """

    model_type: str
    num_layers: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    max_position_embeddings: int
    torch_dtype: str
    num_experts: int = 1
    experts_per_token: int = 1
    qkv_bias: bool = False
    cross_attention_layers: int = 0
    quant: QuantSpec = field(default_factory=QuantSpec)
    vision: VisionSpec | None = None


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


@dataclass(frozen=True)
class PlanResult:
    """The planner's prediction. Memory figures are per GPU, in GiB unless named bytes/tokens.

    Attributes:
        verdict: What vLLM would do at start-up.
        message: vLLM-style explanation and the fix.
        request: The inputs (defaults resolved).
        gpu_memory_gib: Total memory of one GPU.
        usable_gib: ``gpu_memory_utilization * gpu_memory_gib``.
        weights_gib_per_gpu: Weights after tensor-parallel sharding (rotary cache included).
        text_activation_gib: Peak of the decoder profiling run (MLP of the batch, or its logits).
        vision_activation_gib: Peak of the vision-encoder profiling run (0 for text models).
        activation_gib: Peak activation charged against the budget.
        non_torch_gib: Non-PyTorch memory charged by the profiler.
        cuda_graph_gib: Estimated CUDA graph pool (0 with enforce_eager).
        cuda_graph_excess_gib: Graph memory that does not fit in the headroom and so reduces the KV cache.
        available_kv_gib: Memory left for the KV cache.
        kv_bytes_per_token_per_gpu: KV bytes of one token on one GPU.
        kv_cache_tokens: KV-cache capacity (multiple of 16).
        max_model_len_that_fits: Largest max_model_len (multiple of 16) the cache holds, capped by the model.
        max_concurrency: kv_cache_tokens / (max_model_len + image tokens per request).
        image_kv_tokens_per_request: Cross-attention KV slots one image request takes (Mllama).
        recommended_max_num_seqs: For multimodal_profile_risk, the largest max_num_seqs that works.
        warnings: Non-fatal notes.
    """

    verdict: Verdict
    message: str
    request: PlanRequest
    gpu_memory_gib: float
    usable_gib: float
    weights_gib_per_gpu: float
    text_activation_gib: float
    vision_activation_gib: float
    activation_gib: float
    non_torch_gib: float
    cuda_graph_gib: float
    cuda_graph_excess_gib: float
    available_kv_gib: float
    kv_bytes_per_token_per_gpu: int
    kv_cache_tokens: int
    max_model_len_that_fits: int
    max_concurrency: float
    image_kv_tokens_per_request: int = 0
    recommended_max_num_seqs: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def fits(self) -> bool:
        """True when vLLM would start and serve ``max_model_len`` tokens."""
        return self.verdict is Verdict.OK

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict: verdict, fits, figures and the inputs."""
        out: dict[str, Any] = {"verdict": self.verdict.value, "fits": self.fits}
        for key, value in asdict(self).items():
            if key == "request":
                out.update(value)
            elif key != "verdict":
                out[key] = round(value, 3) if isinstance(value, float) else value
        out["warnings"] = list(self.warnings)
        return out


# --------------------------------------------------------------------------- config parsing


def _field(cfg: Mapping[str, Any], key: str, where: str, default: Any = None) -> Any:
    """Reads a positive int field or raises PlanError naming it."""
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PlanError(
            f"config field {where}{key} is missing or not a positive integer (got {value!r}); "
            "pass the model's config.json from its Hugging Face repo."
        )
    return value


def _quant_spec(cfg: Mapping[str, Any]) -> QuantSpec:
    """Parses ``quantization_config`` (fp8/fbgemm_fp8, awq/gptq); others raise PlanError."""
    qc = cfg.get("quantization_config")
    if not qc:
        return QuantSpec()
    if not isinstance(qc, Mapping):
        raise PlanError("config field quantization_config must be an object; fix the config.json.")
    method = str(qc.get("quant_method", "")).lower()
    skip = [str(m) for m in qc.get("modules_to_not_convert") or qc.get("ignored_layers") or []]
    attn = frozenset(_layer_ids(skip, "self_attn"))
    mlp = frozenset(_layer_ids(skip, "mlp"))
    if method in FP8_METHODS:
        return QuantSpec(method, 1.0, attn, mlp)
    if method in INT_METHODS:
        bits = int(qc.get("bits", qc.get("w_bit", 4)))
        group = int(qc.get("group_size", qc.get("q_group_size", 128)) or 128)
        group = group if group > 0 else 4096  # -1 = per channel
        return QuantSpec(method, bits / 8 + (2 + bits / 8) / group, attn, mlp)
    raise PlanError(
        f"config field quantization_config.quant_method {method!r} is not supported by the planner "
        "(fp8, fbgemm_fp8, awq, gptq are); pass total_size from the safetensors index instead."
    )


def _layer_ids(modules: list[str], part: str) -> list[int]:
    """Layer numbers named in module paths like ``model.layers.3.self_attn.q_proj``."""
    ids = []
    for name in modules:
        pieces = name.split(".")
        if part in pieces and "layers" in pieces:
            index = pieces[pieces.index("layers") + 1]
            if index.isdigit():
                ids.append(int(index))
    return ids


def _vision_spec(vc: Mapping[str, Any]) -> VisionSpec:
    """Parses a ``vision_config`` (Mllama tiled encoder or a CLIP/SigLIP-style tower)."""
    hidden = _field(vc, "hidden_size", "vision_config.")
    image = _field(vc, "image_size", "vision_config.")
    patch = _field(vc, "patch_size", "vision_config.")
    mllama = "max_num_tiles" in vc or vc.get("model_type") == "mllama_vision_model"
    patches = (image // patch) ** 2 + 1
    layers = _field(vc, "num_hidden_layers", "vision_config.") + int(vc.get("num_global_layers", 0))
    return VisionSpec(
        hidden_size=hidden,
        intermediate_size=_field(vc, "intermediate_size", "vision_config.", 4 * hidden),
        num_layers=layers,
        tiles=int(vc.get("max_num_tiles", 1)),
        patches_per_tile=patches,
        kept_hidden_states=len(vc.get("intermediate_layers_indices", [])) + 1,
        output_dim=int(vc.get("vision_output_dim", hidden)),
        mllama=mllama,
    )


def _tied(config: Mapping[str, Any], text: Mapping[str, Any]) -> bool:
    """``tie_word_embeddings``; absent, Transformers' default for the family (Gemma ties, Llama does not)."""
    default = str(text.get("model_type", config.get("model_type", ""))).startswith("gemma")
    return bool(text.get("tie_word_embeddings", config.get("tie_word_embeddings", default)))


def parse_model_config(config: Mapping[str, Any]) -> ModelSpec:
    """Reads the planner's figures from a Hugging Face ``config.json`` dict.

    Args:
        config: The config; multimodal ones carry ``text_config`` and ``vision_config``.

    Returns:
        The parsed :class:`ModelSpec`.

    Raises:
        PlanError: A required field is missing or malformed.
    """
    if not isinstance(config, Mapping):
        raise PlanError("config must be a dict parsed from config.json.")
    text = config.get("text_config") or config
    where = "text_config." if text is not config else ""
    heads = _field(text, "num_attention_heads", where)
    hidden = _field(text, "hidden_size", where)
    head_dim = text.get("head_dim") or hidden // heads
    vc = config.get("vision_config")
    return ModelSpec(
        model_type=str(text.get("model_type") or config.get("model_type", "")),
        num_layers=_field(text, "num_hidden_layers", where),
        hidden_size=hidden,
        intermediate_size=_field(text, "intermediate_size", where),
        num_heads=heads,
        num_kv_heads=_field(text, "num_key_value_heads", where, heads),
        head_dim=_field({"head_dim": head_dim}, "head_dim", where),
        vocab_size=_field(text, "vocab_size", where),
        tie_word_embeddings=_tied(config, text),
        max_position_embeddings=_field(text, "max_position_embeddings", where, 4096),
        torch_dtype=str(text.get("torch_dtype") or config.get("torch_dtype") or "bfloat16"),
        num_experts=int(text.get("num_local_experts", text.get("num_experts", 1)) or 1),
        experts_per_token=int(text.get("num_experts_per_tok", 1) or 1),
        qkv_bias=bool(text.get("attention_bias", False)) or str(text.get("model_type", "")).startswith("qwen2"),
        cross_attention_layers=len(text.get("cross_attention_layers") or []),
        quant=_quant_spec(config),
        vision=_vision_spec(vc) if isinstance(vc, Mapping) else None,
    )


# --------------------------------------------------------------------------- weights


def _layer_params(spec: ModelSpec) -> tuple[int, int]:
    """(attention, MLP) parameters of one decoder layer."""
    q, kv = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
    attn = spec.hidden_size * (2 * q + 2 * kv)
    if spec.qkv_bias:
        attn += q + 2 * kv
    mlp = 3 * spec.hidden_size * spec.intermediate_size * spec.num_experts
    if spec.num_experts > 1:
        mlp += spec.hidden_size * spec.num_experts  # router
    return attn, mlp


def _vision_params(vision: VisionSpec, text_hidden: int) -> int:
    """Parameters of the vision tower and its projector."""
    h, i = vision.hidden_size, vision.intermediate_size
    layers = vision.num_layers * (4 * h * h + 2 * h * i + i + 5 * h)
    embeddings = 3 * 14 * 14 * h + vision.patches_per_tile * h
    if vision.mllama:  # tile position embedding: 9 aspect-ratio ids x tiles x 1601 x hidden
        embeddings += 9 * vision.tiles * vision.patches_per_tile * h
    return layers + embeddings + vision.output_dim * text_hidden


def weight_bytes(spec: ModelSpec, dtype_bytes: int) -> int:
    """Bytes of all weights (unsharded), quantization-aware.

    Args:
        spec: The parsed model.
        dtype_bytes: Bytes per unquantized parameter (the serving dtype).

    Returns:
        Checkpoint-like byte count: embeddings, lm_head (unless tied), decoder layers, vision tower.
    """
    attn, mlp = _layer_params(spec)
    q = spec.quant
    total = 0.0
    for layer in range(spec.num_layers):
        attn_bytes = dtype_bytes if not q.method or layer in q.skip_attention_layers else q.linear_bytes
        mlp_bytes = dtype_bytes if not q.method or layer in q.skip_mlp_layers else q.linear_bytes
        total += attn * attn_bytes + mlp * mlp_bytes + 2 * spec.hidden_size * dtype_bytes
    embed_rows = spec.vocab_size + (8 if spec.cross_attention_layers else 0)  # Mllama adds 8 image rows
    embeddings = embed_rows * spec.hidden_size + (0 if spec.tie_word_embeddings else spec.vocab_size * spec.hidden_size)
    total += (embeddings + spec.hidden_size) * dtype_bytes
    if spec.vision:
        total += _vision_params(spec.vision, spec.hidden_size) * dtype_bytes
    return int(total)


def kv_bytes_per_token(spec: ModelSpec, tp: int, kv_dtype_bytes: int) -> int:
    """KV bytes of one token on one GPU: 2 x layers x max(1, kv_heads / TP) x head_dim x bytes.

    Mllama: every decoder layer, cross-attention ones included, gets a cache (vLLM V0 sizes the
    cache per layer alike; matches the 6001 blocks / 14.65 GiB of vLLM PR #12126).
    """
    heads = max(1, spec.num_kv_heads // tp)
    return 2 * spec.num_layers * heads * spec.head_dim * kv_dtype_bytes


# --------------------------------------------------------------------------- activations


def default_max_num_batched_tokens(max_model_len: int, multimodal: bool) -> int:
    """vLLM V0's default ``max_num_batched_tokens`` (the profiling batch).

    Text models above 32K context get chunked prefill (512 tokens); otherwise
    ``max(max_model_len, 2048)``, and at least 5120 for multimodal models. vLLM V1 uses a
    2048/8192 chunked budget instead, so this default is the conservative one.
    """
    if max_model_len > CHUNKED_PREFILL_THRESHOLD and not multimodal:
        return CHUNKED_PREFILL_TOKENS
    tokens = max(max_model_len, DEFAULT_BATCHED_TOKENS)
    return max(tokens, MULTIMODAL_BATCHED_TOKENS) if multimodal else tokens


def _text_activation_bytes(spec: ModelSpec, tokens: int, seqs: int, tp: int, act_bytes: int) -> int:
    """Peak of the decoder profiling run: the MLP of the batch or the float32 logits, whichever is larger.

    MLP peak per token: gate_up output (2 x I) + activation output (I) + ~3 hidden-size buffers
    (residual, normed input, output); MoE multiplies I by the experts each token visits.
    """
    inter = spec.intermediate_size * spec.experts_per_token // tp
    mlp = tokens * (3 * inter + 3 * spec.hidden_size) * act_bytes
    logits = min(seqs, tokens) * spec.vocab_size * LOGITS_BYTES // tp
    return max(mlp, logits)


def _vision_activation_bytes(spec: ModelSpec, images: int, tp: int, act_bytes: int) -> int:
    """Peak of profiling ``images`` dummy images (one per sequence).

    Encoder phase: per image token, the kept hidden states (5 intermediate layers + current for
    Mllama) plus the MLP's two intermediate buffers; Mllama adds a (tiles x patches)^2 attention
    mask per image. Decoder phase: the projected cross-attention states + one cross layer's K/V
    for all image tokens + the text MLP. The larger phase counts (calibrated on vLLM PR #12126).
    """
    v = spec.vision
    if v is None or images <= 0:
        return 0
    tokens = images * v.tiles * v.padded_patches_per_tile
    per_token = v.hidden_size * v.kept_hidden_states + 2 * v.intermediate_size // tp
    encoder = tokens * per_token * act_bytes
    if v.mllama:
        encoder += images * (v.tiles * v.padded_patches_per_tile) ** 2 * act_bytes
    cross_kv = 2 * max(1, spec.num_kv_heads // tp) * spec.head_dim
    decoder = tokens * (spec.hidden_size + cross_kv) * act_bytes
    return max(encoder, decoder)


def _cuda_graph_gib(spec: ModelSpec, enforce_eager: bool) -> float:
    """Rough CUDA graph pool of vLLM's decode graphs (0 with enforce_eager)."""
    if enforce_eager:
        return 0.0
    return CUDA_GRAPH_BASE_GIB + CUDA_GRAPH_PER_LAYER_GIB * spec.num_layers


# --------------------------------------------------------------------------- request validation


def _gpu_memory_gib(req: PlanRequest) -> float:
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


def _resolve(spec: ModelSpec, req: PlanRequest) -> PlanRequest:
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
    max_len = req.max_model_len or spec.max_position_embeddings
    if not isinstance(max_len, int) or max_len < 1 or max_len > spec.max_position_embeddings:
        raise PlanError(f"max_model_len {max_len!r} must be 1..{spec.max_position_embeddings} (the model's context).")
    if not isinstance(req.max_num_seqs, int) or req.max_num_seqs < 1:
        raise PlanError(f"max_num_seqs must be an integer >= 1 (got {req.max_num_seqs!r}).")
    batched = req.max_num_batched_tokens or default_max_num_batched_tokens(max_len, spec.vision is not None)
    if batched < 1:
        raise PlanError("max_num_batched_tokens must be >= 1.")
    return replace(req, dtype=dtype, max_model_len=max_len, max_num_batched_tokens=batched)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class _Budget:
    """Intermediate memory figures (GiB) of one plan."""

    total: float
    usable: float
    weights: float
    text_act: float
    vision_act: float
    non_torch: float
    graphs: float
    graph_excess: float

    @property
    def available(self) -> float:
        return self.usable - self.weights - max(self.text_act, self.vision_act) - self.non_torch - self.graph_excess


def _budget(spec: ModelSpec, req: PlanRequest) -> _Budget:
    """Memory accounting of a resolved request."""
    tp = req.accelerator_count
    dtype_bytes = DTYPE_BYTES[req.dtype]
    total = _gpu_memory_gib(req)
    if req.total_size:
        scale = 1.0 if spec.quant.method else dtype_bytes / DTYPE_BYTES.get(spec.torch_dtype, 2)
        raw = req.total_size * scale
    else:
        raw = weight_bytes(spec, dtype_bytes)
    rope = spec.max_position_embeddings * spec.head_dim * dtype_bytes  # cos/sin cache
    weights = (raw / tp + rope) / GIB
    text_act = _text_activation_bytes(spec, req.max_num_batched_tokens, req.max_num_seqs, tp, dtype_bytes) / GIB
    vision_act = _vision_activation_bytes(spec, req.max_num_seqs, tp, dtype_bytes) / GIB
    graphs = _cuda_graph_gib(spec, req.enforce_eager)
    headroom = total * (1 - req.gpu_memory_utilization) - CUDA_CONTEXT_GIB
    non_torch = NON_TORCH_GIB + (NON_TORCH_TP_EXTRA_GIB if tp > 1 else 0.0)
    usable = total * req.gpu_memory_utilization
    return _Budget(total, usable, weights, text_act, vision_act, non_torch, graphs, max(0.0, graphs - headroom))


def tp_problem(spec: ModelSpec, tp: int) -> str | None:
    """vLLM's divisibility rules for tensor parallelism, or None when they hold."""
    if spec.num_heads % tp:
        return f"Total number of attention heads ({spec.num_heads}) must be divisible by tensor parallel size ({tp})."
    kv = spec.num_kv_heads
    if (kv >= tp and kv % tp) or (kv < tp and tp % kv):
        return f"Number of KV heads ({kv}) and tensor parallel size ({tp}) must divide one another."
    return None


def _kv_tokens(available_gib: float, kv_per_token: int) -> int:
    """KV-cache capacity in tokens, rounded down to whole blocks of 16."""
    if available_gib <= 0:
        return 0
    return int(available_gib * GIB // (kv_per_token * BLOCK_SIZE)) * BLOCK_SIZE


def _image_tokens(spec: ModelSpec) -> int:
    """Cross-attention KV slots one image request takes (Mllama: 4 tiles x 1601 tokens)."""
    v = spec.vision
    if v is None or not spec.cross_attention_layers:
        return 0
    return v.tiles * v.patches_per_tile


def _kv_message(max_model_len: int, kv_tokens: int, fit: int) -> str:
    """vLLM V0's error text plus our fix."""
    suggestion = 1 << (fit.bit_length() - 1) if fit >= 16 else 0
    example = f" (e.g. {suggestion})" if suggestion and suggestion != fit else ""
    return (
        f"The model's max seq len ({max_model_len}) is larger than the maximum number of tokens that can be "
        f"stored in KV cache ({kv_tokens}). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` "
        f"when initializing the engine. Fix: set max_model_len to {fit} or less{example}, raise "
        "gpu_memory_utilization, or use more or larger GPUs (accelerator_count is the tensor parallel size)."
    )


def _fits(spec: ModelSpec, req: PlanRequest) -> bool:
    """The request's KV cache holds max_model_len tokens."""
    budget = _budget(spec, req)
    kv = kv_bytes_per_token(spec, req.accelerator_count, _kv_dtype_bytes(req))
    return budget.weights <= budget.usable and _kv_tokens(budget.available, kv) >= req.max_model_len


def _largest_workable_seqs(spec: ModelSpec, req: PlanRequest) -> int | None:
    """Largest max_num_seqs below the requested one whose profiling run leaves room for the KV cache."""
    low, high = 0, req.max_num_seqs - 1
    while low < high:
        mid = (low + high + 1) // 2
        if _fits(spec, replace(req, max_num_seqs=mid)):
            low = mid
        else:
            high = mid - 1
    return low or None


def _kv_dtype_bytes(req: PlanRequest) -> int:
    """Bytes of one KV element."""
    return KV_DTYPE_BYTES.get(req.kv_cache_dtype, DTYPE_BYTES[req.dtype])


def _verdict(spec: ModelSpec, req: PlanRequest, budget: _Budget, kv_tokens: int) -> tuple[Verdict, str, int | None]:
    """Chooses the verdict, its message and (for the multimodal risk) the max_num_seqs that works."""
    fit = min(kv_tokens, spec.max_position_embeddings) // BLOCK_SIZE * BLOCK_SIZE
    problem = tp_problem(spec, req.accelerator_count)
    if problem:
        return (
            Verdict.TP_DOES_NOT_DIVIDE_HEADS,
            f"{problem} Fix: use an accelerator_count that divides {spec.num_heads}.",
            None,
        )
    if budget.weights > budget.usable:
        return (
            Verdict.WEIGHTS_DO_NOT_FIT,
            (
                f"Weights need {budget.weights:.2f} GiB per GPU but gpu_memory_utilization x GPU memory is "
                f"{budget.usable:.2f} GiB. Fix: more GPUs (tensor parallel), larger GPUs, or an FP8/quantized "
                "checkpoint."
            ),
            None,
        )
    if kv_tokens >= req.max_model_len:
        return Verdict.OK, f"Fits: KV cache of {kv_tokens} tokens holds max_model_len {req.max_model_len}.", None
    if budget.vision_act > budget.text_act:
        seqs = _largest_workable_seqs(spec, req)
        if seqs:
            return (
                Verdict.MULTIMODAL_PROFILE_RISK,
                (
                    f"Profiling max_num_seqs={req.max_num_seqs} dummy images needs ~{budget.vision_act:.1f} GiB of "
                    f"activations; {budget.usable - budget.weights - budget.non_torch:.1f} GiB is free after the "
                    f"weights, so start-up runs out of memory. Fix: set max_num_seqs to {seqs} or less "
                    "(with enforce_eager=True)."
                ),
                seqs,
            )
    return Verdict.KV_CACHE_TOO_SMALL, _kv_message(req.max_model_len, kv_tokens, fit), None


def _warnings(spec: ModelSpec, req: PlanRequest, budget: _Budget) -> tuple[str, ...]:
    """Non-fatal notes about the request."""
    notes = []
    if spec.cross_attention_layers and not req.enforce_eager:
        notes.append(
            "Mllama needs enforce_eager=True: its cross-attention layers do not run under CUDA graphs (vLLM #8879)."
        )
    if budget.graph_excess > 0:
        notes.append(
            f"CUDA graphs (~{budget.graphs:.2f} GiB) do not fit in the {1 - req.gpu_memory_utilization:.2f} headroom; "
            "charged to the KV cache. Lower gpu_memory_utilization or set enforce_eager=True."
        )
    if req.accelerator_type == "NVIDIA_TESLA_T4" and req.dtype == "bfloat16":
        notes.append("T4 has no bfloat16 support (compute capability 7.5): use dtype=float16.")
    return tuple(notes)


def plan(config: Mapping[str, Any], request: PlanRequest | None = None, **fields: Any) -> PlanResult:
    """Predicts vLLM's start-up verdict for a model config on the requested hardware.

    Args:
        config: The model's ``config.json`` as a dict.
        request: The deployment; or pass its fields as keyword arguments.
        **fields: :class:`PlanRequest` fields overriding ``request``'s.

    Returns:
        The :class:`PlanResult`.

    Raises:
        PlanError: Bad config or request (the message names the field and the fix).
    """
    try:
        req = replace(request or PlanRequest(), **fields)
    except TypeError as exc:
        raise PlanError(f"unknown plan field: {exc}; see PlanRequest for the fields.") from None
    spec = parse_model_config(config)
    req = _resolve(spec, req)
    budget = _budget(spec, req)
    kv_per_token = kv_bytes_per_token(spec, req.accelerator_count, _kv_dtype_bytes(req))
    kv_tokens = _kv_tokens(budget.available, kv_per_token)
    verdict, message, seqs = _verdict(spec, req, budget, kv_tokens)
    image_tokens = _image_tokens(spec)
    return PlanResult(
        verdict=verdict,
        message=message,
        request=req,
        gpu_memory_gib=budget.total,
        usable_gib=budget.usable,
        weights_gib_per_gpu=budget.weights,
        text_activation_gib=budget.text_act,
        vision_activation_gib=budget.vision_act,
        activation_gib=max(budget.text_act, budget.vision_act),
        non_torch_gib=budget.non_torch,
        cuda_graph_gib=budget.graphs,
        cuda_graph_excess_gib=budget.graph_excess,
        available_kv_gib=budget.available,
        kv_bytes_per_token_per_gpu=kv_per_token,
        kv_cache_tokens=kv_tokens,
        max_model_len_that_fits=min(kv_tokens, spec.max_position_embeddings) // BLOCK_SIZE * BLOCK_SIZE,
        max_concurrency=kv_tokens / (req.max_model_len + image_tokens),
        image_kv_tokens_per_request=image_tokens,
        recommended_max_num_seqs=seqs,
        warnings=_warnings(spec, req, budget),
    )


def plan_preset(name: str, **overrides: Any) -> PlanResult:
    """Plans a ``recipes.PRESETS`` entry on its own hardware, with optional overrides.

    Args:
        name: Preset name, e.g. ``llama-3.1-8b``.
        **overrides: :class:`PlanRequest` fields to change (e.g. ``max_num_seqs=256``).

    Returns:
        The :class:`PlanResult`.

    Raises:
        PlanError: Unknown preset or bad overrides.
    """
    try:
        recipe = recipes.get_preset(name)
    except KeyError as exc:
        raise PlanError(str(exc.args[0])) from None
    hardware_override = {"accelerator_type", "accelerator_count", "gpu_memory_gib"} & overrides.keys()
    request = PlanRequest(
        accelerator_type=recipe.accelerator_type,
        accelerator_count=recipe.accelerator_count,
        machine_type=None if hardware_override else recipe.machine_type,
        gpu_memory_utilization=recipe.gpu_memory_utilization,
        max_model_len=recipe.max_model_len,
        max_num_seqs=recipe.max_num_seqs,
        enforce_eager=recipe.enforce_eager,
        total_size=checkpoint_total_size(recipe.model_id),
    )
    return plan(load_model_config(recipe.model_id), request, **overrides)


# --------------------------------------------------------------------------- offline configs (file I/O)


def _index() -> dict[str, dict[str, Any]]:
    """The shipped ``model_configs/index.json``: HF id -> {file, total_size}."""
    with open(_MODEL_CONFIG_DIR / "index.json", encoding="utf-8") as f:
        return json.load(f)["models"]


def _hf_id(name: str) -> str:
    """HF id of a preset name (or the name itself)."""
    return recipes.PRESETS[name].model_id if name in recipes.PRESETS else name


def checkpoint_total_size(name_or_id: str) -> int | None:
    """Safetensors ``metadata.total_size`` (bytes) of a shipped model, when known."""
    entry = _index().get(_hf_id(name_or_id))
    return entry.get("total_size") if entry else None


def shipped_config(model_id: str) -> dict[str, Any] | None:
    """The offline config shipped for a HF id or preset name, or None (never reads other paths)."""
    entry = _index().get(_hf_id(model_id))
    if not entry:
        return None
    return json.loads((_MODEL_CONFIG_DIR / entry["file"]).read_text(encoding="utf-8"))


def load_model_config(name_or_path: str | Path) -> dict[str, Any]:
    """Reads a model config: a preset name, a HF id shipped offline, or a local config.json/folder.

    Args:
        name_or_path: ``llama-3.1-8b``, ``meta-llama/Meta-Llama-3.1-8B-Instruct``, or a path.

    Returns:
        The config dict.

    Raises:
        PlanError: Not a preset, not shipped, and no such file.
    """
    entry = _index().get(_hf_id(str(name_or_path)))
    path = _MODEL_CONFIG_DIR / entry["file"] if entry else Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        known = ", ".join(sorted(_index()))
        raise PlanError(
            f"model {str(name_or_path)!r} is not a preset, a shipped config ({known}) or a config.json path; "
            "download the model's config.json and pass its path."
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise PlanError(f"{path} is not valid JSON: {exc}") from None
