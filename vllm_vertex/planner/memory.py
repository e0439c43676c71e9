"""The memory model: what vLLM charges per GPU at start-up, and the KV cache left over.

One file to check against docs/planner.md ("Model")::

    usable       = gpu_memory_utilization x GPU memory
    available_kv = usable - weights - peak_activation - non_torch - cuda_graph_excess
    kv_tokens    = floor(available_kv / (16 x kv_bytes_per_token)) x 16

Pure; no I/O.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vllm_vertex.errors import PlanError
from vllm_vertex.planner._base import BLOCK_SIZE, DTYPE_BYTES, GIB
from vllm_vertex.planner.model import ModelSpec, VisionSpec
from vllm_vertex.planner.quant import MXFP4, MXFP4_BYTES, MXFP4_LAYOUT_OVERHEAD

if TYPE_CHECKING:
    from vllm_vertex.planner.request import PlanRequest

__all__ = [
    "ENGINE_PROFILES",
    "Budget",
    "EngineProfile",
    "engine_profile",
    "non_torch_gib",
    "budget",
    "context_limit",
    "default_max_num_batched_tokens",
    "image_tokens",
    "kv_band_gib",
    "kv_bytes_per_token",
    "hybrid_for",
    "hybrid_kv",
    "kv_groups",
    "kv_tokens",
    "kv_tokens_needed",
    "layout_extra_bytes",
    "max_len_for_tokens",
    "mla_latent_cached",
    "replicated_bytes",
    "version_numbers",
    "weight_bytes",
]

CUDA_CONTEXT_GIB = 0.5  # CUDA context per process; lives outside gpu_memory_utilization's budget.
CUDA_GRAPH_BASE_GIB = 0.25  # CUDA graph pool: fixed part ...
CUDA_GRAPH_PER_LAYER_GIB = 0.01  # ... plus a per-decoder-layer part (35 captured batch sizes).
LOGITS_BYTES = 4  # logits of the profiling batch are upcast to float32 by the sampler.
CHUNKED_PREFILL_THRESHOLD = 32768  # V0 turns chunked prefill on above this max_model_len (text models).
CHUNKED_PREFILL_TOKENS = 512  # V0's max_num_batched_tokens with chunked prefill.
DEFAULT_BATCHED_TOKENS = 2048  # V0 _DEFAULT_MAX_NUM_BATCHED_TOKENS.
MULTIMODAL_BATCHED_TOKENS = 5120  # V0 _MULTIMODAL_MODEL_MAX_NUM_BATCHED_TOKENS.
V1_BATCHED_TOKENS = 2048  # V1 `vllm serve` default chunked-prefill budget ...
V1_LARGE_GPU_BATCHED_TOKENS = 8192  # ... and on >= 70 GiB GPUs other than A100 (H100/H200).
LARGE_GPU_GIB = 70.0


@dataclass(frozen=True)
class EngineProfile:
    """The non-KV memory of one generation of vLLM's start-up profiling (fitted; docs/planner.md).

    Attributes:
        name: ``v0``, ``v1-early`` or ``v1``.
        versions: The vLLM releases it covers.
        v1: V1 engine (chunked-prefill profiling budget, sampler warm-up).
        sampler_copies: float32 copies of the sampled rows' ``x vocab`` logits alive in the sampler
            (V1's warm-up, V0's profiling batch; the logits are gathered whole, so TP does not divide them).
        sampler_base_gib: Fixed part of the V1 profiling peak.
        non_torch_gib: Non-PyTorch memory at TP = 1 (cuBLAS workspace, allocator slack).
        non_torch_tp_gib: The same at TP > 1 (NCCL and custom all-reduce buffers) ...
        non_torch_per_rank_gib: ... plus this per TP rank.
        source: The calibration rows the constants were fitted to.
        non_torch_tp_from: First release (major, minor) that ``non_torch_tp_gib`` applies to; earlier
            releases of the profile use ``non_torch_tp_before_gib`` (a version given by profile name
            is taken as the newer part).
        non_torch_tp_before_gib: TP > 1 non-torch base before ``non_torch_tp_from``.
    """

    name: str
    versions: str
    v1: bool
    sampler_copies: float
    sampler_base_gib: float
    non_torch_gib: float
    non_torch_tp_gib: float
    non_torch_per_rank_gib: float
    source: str
    non_torch_tp_from: tuple[int, int] = (0, 0)
    non_torch_tp_before_gib: float = 0.0


ENGINE_PROFILES: dict[str, EngineProfile] = {
    p.name: p
    for p in (
        EngineProfile(
            "v0",
            "vLLM <= 0.7 (V0 engine)",
            False,
            8.93,
            0.168,
            0.3,
            0.5,
            0.0,
            "vLLM #10517, PRs #10511/#12126/#2031 (RTX 3090, A100, H100; TP 1/2/8); sampler: PR #10511's "
            "Llama 3 8B (1.26 GiB peak at 256 sequences), held out vLLM #13882 and #15815",
        ),
        EngineProfile(
            "v1-early",
            "vLLM 0.8 - 0.16 (V1 engine, old sampler warm-up)",
            True,
            9.44,
            0.168,
            0.13,
            0.49,
            0.03,
            "llm-d-planner accuracy report: Qwen3-14B on H100 with vLLM 0.15/0.16 (5.64 GiB peak, 0.13 GiB "
            "non-torch); TP > 1: llm-d-benchmark's vLLM 0.11 Llama 3.3 70B FP8 at TP 2 (0.55 GiB), vLLM #21348 "
            "(0.9.x, TP 4) before 0.11",
            (0, 11),
            2.01,
        ),
        EngineProfile(
            "v1",
            "vLLM >= 0.17 (V1 engine)",
            True,
            3.52,
            0.168,
            0.25,
            2.01,
            0.03,
            "llm-d-planner accuracy report: vLLM 0.17-0.19 on H100, Llama 3.1 8B / Qwen2.5 7B at TP 1/2/4",
        ),
    )
}
DEFAULT_ENGINE = "v1-early"  # what recipes.DEFAULT_IMAGE carries (see recipes.IMAGE_ENGINES)


def engine_profile(version: str) -> EngineProfile:
    """The profile of a vLLM version (``0.6.4``, ``v0.19.0``) or profile name (``v0``, ``v1-early``, ``v1``).

    Raises:
        PlanError: Not a version or profile name.
    """
    text = str(version).strip().lower()
    if text in ENGINE_PROFILES:
        return ENGINE_PROFILES[text]
    parts = text.removeprefix("v").split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1][:2].rstrip("x").isdigit():
        raise PlanError(
            f"vllm_version {version!r} is not a vLLM version (e.g. 0.11.2) or one of {sorted(ENGINE_PROFILES)}."
        )
    major, minor = int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)
    if (major, minor) < (0, 8):
        return ENGINE_PROFILES["v0"]
    return ENGINE_PROFILES["v1-early"] if (major, minor) < (0, 17) else ENGINE_PROFILES["v1"]


# GPUs whose NVLink switch lets NCCL reserve NVLS (NVLink SHARP) buffers: the ~2 GiB per GPU that
# V1 reports at TP > 1 on H100 is fitted there. Elsewhere (A100, L4, T4) V1's TP > 1 overhead is
# taken as V0's 0.5 GiB + the per-rank part: an assumption, no published log calibrates it.
NVLS_ACCELERATORS = frozenset({"NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB", "NVIDIA_H200_141GB"})
NO_NVLS_TP_GIB = 0.5


def version_numbers(version: str) -> tuple[int, ...]:
    """The leading numbers of a vLLM version, at most three: ``0.11.0rc2`` (0, 11, 0), ``v0.9.x`` (0, 9),
    ``0.6.4.post1`` (0, 6, 4); a profile name (``v0``, ``v1-early``) or ``auto`` gives fewer than two."""
    numbers: list[int] = []
    for part in str(version).strip().lower().removeprefix("v").split(".")[:3]:
        digits = part[: len(part) - len(part.lstrip("0123456789"))]
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers)


def _release(version: str) -> tuple[int, int] | None:
    """(major, minor) of a vLLM version (``0.11.2``, ``v0.9.x``), None for a profile name."""
    numbers = version_numbers(version)
    return (numbers[0], numbers[1]) if len(numbers) >= 2 else None


def non_torch_gib(profile: EngineProfile, tp: int, accelerator_type: str | None = None, version: str = "") -> float:
    """Non-PyTorch memory per GPU the profiler charges (fitted per engine profile).

    An unknown accelerator (``gpu_memory_gib`` given instead) is treated as NVLS-capable (more memory).
    ``version`` picks the part of a profile whose TP > 1 term changed inside it (``v1-early``: ~2 GiB on
    vLLM 0.9, 0.55 GiB at TP 2 on 0.11; see ``EngineProfile.non_torch_tp_from``).
    """
    if tp <= 1:
        return profile.non_torch_gib
    if not profile.v1:
        return profile.non_torch_tp_gib
    release = _release(version)
    base = profile.non_torch_tp_gib
    if release is not None and release < profile.non_torch_tp_from:
        base = profile.non_torch_tp_before_gib
    nvls = accelerator_type is None or accelerator_type in NVLS_ACCELERATORS
    return (base if nvls else min(base, NO_NVLS_TP_GIB)) + profile.non_torch_per_rank_gib * tp


# --------------------------------------------------------------------------- weights


def _attention_linears(spec: ModelSpec, layer: int) -> list[tuple[str, int]]:
    """(module name, parameters) of one layer's attention projections (GQA, or DeepSeek's MLA)."""
    attn, h = f"model.layers.{layer}.self_attn", spec.hidden_size
    m = spec.mla
    if m is None:
        q, kv = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
        return [(f"{attn}.q_proj", h * q), (f"{attn}.k_proj", h * kv), (f"{attn}.v_proj", h * kv),
                (f"{attn}.o_proj", q * h)]  # fmt: skip
    qk = spec.num_heads * (m.qk_nope_head_dim + m.qk_rope_head_dim)
    query = (
        [(f"{attn}.q_a_proj", h * m.q_lora_rank), (f"{attn}.q_b_proj", m.q_lora_rank * qk)]
        if m.q_lora_rank
        else [(f"{attn}.q_proj", h * qk)]
    )
    return query + [
        (f"{attn}.kv_a_proj_with_mqa", h * m.latent),
        (f"{attn}.kv_b_proj", m.kv_lora_rank * spec.num_heads * (m.qk_nope_head_dim + m.v_head_dim)),
        (f"{attn}.o_proj", spec.num_heads * m.v_head_dim * h),
    ]


def _gated(prefix: str, hidden: int, inter: int) -> list[tuple[str, int]]:
    return [(f"{prefix}.gate_proj", hidden * inter), (f"{prefix}.up_proj", hidden * inter),
            (f"{prefix}.down_proj", inter * hidden)]  # fmt: skip


def _layer_linears(spec: ModelSpec, layer: int) -> list[tuple[str, int]]:
    """(module name, parameters) of one decoder layer's linear projections (MoE: all experts).

    A sparse layer (``spec.moe_layers``) holds every routed expert of ``intermediate_size`` and the
    shared expert(s); the other layers of an MoE model a dense MLP of ``dense_intermediate_size``.
    """
    h, mlp = spec.hidden_size, f"model.layers.{layer}.mlp"
    out = _attention_linears(spec, layer)
    if spec.num_experts <= 1:
        return out + _gated(mlp, h, spec.intermediate_size)
    if layer not in _sparse_layers(spec):
        return out + _gated(mlp, h, spec.dense_intermediate_size or spec.intermediate_size)
    out += _gated(f"{mlp}.experts.0", h, spec.intermediate_size * spec.num_experts)
    if spec.shared_expert_intermediate_size:
        out += _gated(f"{mlp}.shared_expert", h, spec.shared_expert_intermediate_size)
    return out


def _sparse_layers(spec: ModelSpec) -> frozenset[int]:
    """Layers with routed experts (every layer for configs that do not say)."""
    return frozenset(spec.moe_layers) if spec.moe_layers else frozenset(range(spec.num_layers))


def _layer_extras(spec: ModelSpec, layer: int = 0) -> int:
    """Unquantised parameters of one decoder layer: norms, q/k/v(/o) bias, MLA norms, MoE router,
    shared-expert gate, gpt-oss expert biases and attention sinks."""
    h = spec.hidden_size
    extra = 2 * h
    if spec.qkv_bias and spec.mla is None:
        extra += (spec.num_heads + 2 * spec.num_kv_heads) * spec.head_dim
        extra += h if spec.expert_bias else 0  # gpt-oss: o_proj bias too
    if spec.mla is not None:
        extra += spec.mla.kv_lora_rank + spec.mla.q_lora_rank
    if spec.expert_bias:
        extra += spec.num_heads  # attention sinks
    if spec.num_experts > 1 and layer in _sparse_layers(spec):
        extra += h * spec.num_experts + (h if spec.shared_expert_gate else 0)
        if spec.expert_bias:  # router bias + per-expert gate_up and down biases
            extra += spec.num_experts * (1 + 2 * spec.intermediate_size + h)
    return extra


def _vision_params(vision: VisionSpec, text_hidden: int) -> int:
    """Parameters of the vision tower and its projector."""
    h, i = vision.hidden_size, vision.intermediate_size
    mlp = (3 if vision.gated_mlp else 2) * h * i + i
    layers = vision.num_layers * (4 * h * h + mlp + 5 * h)
    patch = vision.patches_per_tile if vision.kind in ("clip", "mllama", "llama4", "internvit") else 0
    embeddings = 3 * 14 * 14 * h + patch * h
    if vision.mllama:  # tile position embedding: 9 aspect-ratio ids x tiles x 1601 x hidden
        embeddings += 9 * vision.tiles * vision.patches_per_tile * h
    if vision.kind == "qwen_vl":  # patch merger: (4h -> 4h -> out); Qwen3-VL adds one per deepstack index
        # Conv3d patch embedding (channels x temporal x patch^2: 1176 at 14 px, 1536 at Qwen3-VL's 16) and
        # Qwen3-VL's learned position table (vllm/model_executor/models/qwen3_vl.py, Qwen3_VisionTransformer).
        embeddings = (vision.input_per_patch or 3 * 2 * 14 * 14) * h + vision.position_embeddings * h
        merged = h * vision.merge
        merger = merged * merged + merged * vision.output_dim
        deepstack = vision.deepstack_mergers * (merger + 2 * merged)  # post-shuffle LayerNorm of 4h
        return layers + embeddings + merger + deepstack
    if vision.kind == "internvit":  # mlp1: LayerNorm(4h), 4h -> text, GELU, text -> text (with biases)
        shuffled = vision.output_dim * vision.merge
        return layers + embeddings + 3 * shuffled + shuffled * text_hidden + text_hidden * (text_hidden + 1)
    return layers + embeddings + vision.output_dim * text_hidden


@functools.lru_cache(maxsize=256)
def weight_bytes(spec: ModelSpec, dtype_bytes: int) -> int:
    """Bytes of all weights (unsharded), quantization-aware.

    Args:
        spec: The parsed model.
        dtype_bytes: Bytes per unquantized parameter (the serving dtype).

    Returns:
        Checkpoint-like byte count: embeddings, lm_head (unless tied), decoder layers, vision tower.
    """
    q = spec.quant
    if q.method and not q.sizable:
        raise PlanError(
            f"the weights' size cannot be read from quantization_config: {q.reason}. Pass total_size "
            "(the safetensors index's metadata.total_size; preflight reads it from the Hub or the gs:// folder)."
        )
    total = 0.0
    for layer in range(spec.num_layers):
        for module, params in _layer_linears(spec, layer):
            total += params * (q.bytes_for(module) or dtype_bytes)
        total += _layer_extras(spec, layer) * dtype_bytes
    embed_rows = spec.vocab_size + (8 if spec.cross_attention_layers else 0)  # Mllama adds 8 image rows
    embeddings = embed_rows * spec.hidden_size + (0 if spec.tie_word_embeddings else spec.vocab_size * spec.hidden_size)
    total += (embeddings + spec.hidden_size) * dtype_bytes
    if spec.vision:
        total += _vision_params(spec.vision, spec.hidden_size) * dtype_bytes
    return int(total)


def mtp_bytes(spec: ModelSpec) -> int:
    """Checkpoint bytes of the MTP layers vLLM does not load (``deepseek_v2.py`` ``load_weights``: "skip spec
    decode layers for main model"), to take out of a ``total_size``.

    Each is a decoder layer like the last one (sparse in DeepSeek-V3 and GLM-4.5), plus ``eh_proj``
    (2h x h), two norms and its own ``embed_tokens`` and ``shared_head``: DeepSeek-V3's 14B of MTP in its
    685B checkpoint (61 + 1 layers).
    """
    if not spec.mtp_layers:
        return 0
    q, dtype_bytes = spec.quant, DTYPE_BYTES.get(spec.torch_dtype, 2)
    last = spec.num_layers - 1
    layer = sum(params * (q.bytes_for(module) or dtype_bytes) for module, params in _layer_linears(spec, last))
    h = spec.hidden_size
    extras = _layer_extras(spec, last) + 2 * h * h + 3 * h + 2 * spec.vocab_size * h
    return int(spec.mtp_layers * (layer + extras * dtype_bytes))


def hybrid_kv(engine: str, version: str) -> bool:
    """vLLM's hybrid KV-cache manager (V1 >= 0.10) keeps sliding-window layers in their own groups.

    Before (V0, V1 0.8-0.9) every layer is cached at full length. ``v1-early`` given by name (the
    default image, December 2025) is taken as >= 0.10.
    """
    if engine == "v0":
        return False
    release = _release(version)
    return release is None or release >= (0, 10)


# vLLM 0.5.1-0.6.4 ran Gemma 2's interleaved sliding window as global attention on every layer and capped
# max_model_len at the window (PR #5908: ``ModelConfig`` sets ``disable_sliding_window`` for gemma2 and
# ``_get_and_verify_max_len`` refuses a longer max_model_len); 0.6.5 lifted the cap (PR #10584: the
# scheduler treats every layer as full attention, only the attention kernel applies the window).
GEMMA2_FULL_CONTEXT_FROM = (0, 6, 5)


def context_limit(spec: ModelSpec, version: str) -> int:
    """The longest ``max_model_len`` this vLLM version accepts for the model.

    Gemma 2 on vLLM 0.5.1-0.6.4 stops at its sliding window (4,096 tokens, see
    :data:`GEMMA2_FULL_CONTEXT_FROM`); a version without a stated patch level keeps the model's limit.
    """
    release = version_numbers(version)  # a version without its patch level keeps the model's limit
    if spec.model_type == "gemma2" and spec.sliding_window and len(release) == 3 and release < GEMMA2_FULL_CONTEXT_FROM:
        return min(spec.context_limit, spec.sliding_window)
    return spec.context_limit


def hybrid_for(req: PlanRequest) -> bool:
    """:func:`hybrid_kv` of a resolved request."""
    return hybrid_kv(engine_profile(req.vllm_version).name, req.vllm_version)


def kv_groups(spec: ModelSpec, hybrid: bool) -> tuple[int, int, int]:
    """(group size, full-attention groups, sliding-window groups) of vLLM's KV cache layout.

    Without interleaved local attention (or without the hybrid manager): one group of all layers.
    Else vLLM splits each attention type into groups of ``group_size`` layers (the smaller type's
    count, or the larger one's when they differ by < 1.5x), padding the last group of each type
    (``_get_kv_cache_groups_uniform_page_size`` in vllm/v1/core/kv_cache_utils.py).
    """
    local = spec.sliding_window_layers
    full = spec.num_layers - local
    if not hybrid or not local or not full:
        return spec.num_layers, 1, 0
    size = min(full, local)
    if max(full, local) < 1.5 * size:
        size = max(full, local)
    return size, -(-full // size), -(-local // size)


MXFP4_ROW_ALIGN = 64  # vLLM's Hopper/Triton mxfp4 MoE pads each rank's expert rows to a multiple of 64


def replicated_bytes(spec: ModelSpec, dtype_bytes: int) -> float:
    """Bytes of the weights vLLM keeps whole on every tensor-parallel rank (DeepSeek MLA models).

    vLLM's ``deepseek_v2.py`` (DeepSeek-V2/V3, Kimi-K2) builds the latent down-projections replicated:
    ``kv_a_proj_with_mqa`` as ``ReplicatedLinear`` and, with ``q_lora_rank``, ``q_a_proj`` fused with it
    (``DeepSeekV2FusedQkvAProjLinear``, ``disable_tp=True``), and the MoE router (``gate``, ``GateLinear``)
    unsharded; every rank holds them whole instead of ``1 / TP``. Other families are left as they are.
    """
    m = spec.mla
    if m is None:
        return 0.0
    q = spec.quant
    h = spec.hidden_size
    total = 0.0
    for layer in range(spec.num_layers):
        attn = f"model.layers.{layer}.self_attn"
        total += h * m.latent * (q.bytes_for(f"{attn}.kv_a_proj_with_mqa") or dtype_bytes)
        if m.q_lora_rank:
            total += h * m.q_lora_rank * (q.bytes_for(f"{attn}.q_a_proj") or dtype_bytes)
        if spec.num_experts > 1 and layer in _sparse_layers(spec):
            total += h * spec.num_experts * dtype_bytes  # router weight, never quantised
    return total


def layout_extra_bytes(spec: ModelSpec, tp: int) -> float:
    """Bytes (unsharded) vLLM holds beyond the checkpoint for its kernels' weight layouts.

    MXFP4 experts (gpt-oss): ~6 % for the swizzled / repacked layout (fitted: gpt-oss-120b loads 64.38 GiB on
    one H100, vLLM #33155, for a 60.77 GiB checkpoint) and each rank's ``intermediate_size / TP`` rows
    rounded up to 64 (``Mxfp4MoEMethod.create_weights``: 1,440 -> 1,472 at TP 2, 720 -> 768 at TP 4).
    """
    if spec.quant.method != MXFP4 or spec.num_experts <= 1:
        return 0.0
    inter = spec.intermediate_size
    per_rank = -(-inter // tp)
    padded = -(-per_rank // MXFP4_ROW_ALIGN) * MXFP4_ROW_ALIGN * tp
    per_layer = 3 * spec.hidden_size * inter * spec.num_experts * MXFP4_BYTES
    experts = per_layer * len(_sparse_layers(spec))
    return experts * (MXFP4_LAYOUT_OVERHEAD * padded / inter - 1)


# vLLM caches DeepSeek's MLA latent from 0.7.1 (MLA support, January 2025). Before, the DeepSeek attention
# kept full K and V for every head, padded to FlashAttention's 256: ``ModelConfig.get_head_size`` returned 256
# for ``deepseek_v2`` ("FlashAttention supports only head_size 32, 64, 128, 256, we need to pad head_size
# 192 to 256"), with ``num_key_value_heads`` / TP heads per rank.
MLA_LATENT_FROM = (0, 7, 1)
PRE_MLA_HEAD_SIZE = 256


def mla_latent_cached(version: str) -> bool:
    """Whether a vLLM version (``0.6.4``, ``v0.5.0.post1``) caches DeepSeek's latent (True from 0.7.1).

    A profile name (``v0``...) or a version without its patch (``0.7.x``) counts as its newest release.
    """
    numbers = version_numbers(version)
    if len(numbers) < 2:
        return True
    return (*numbers[:2], numbers[2] if len(numbers) > 2 else 99) >= MLA_LATENT_FROM


def kv_bytes_per_token(spec: ModelSpec, tp: int, kv_dtype_bytes: int, hybrid: bool = False, latent: bool = True) -> int:
    """KV bytes of one token of vLLM's reported "GPU KV cache size" on one GPU.

    GQA: 2 x layers x max(1, kv_heads / TP) x head_dim x bytes. MLA (DeepSeek): layers x
    (kv_lora_rank + qk_rope_head_dim) x bytes, on every rank; before vLLM 0.7.1 (``latent`` False,
    :func:`mla_latent_cached`) 2 x layers x kv_heads / TP x 256 x bytes. With the hybrid manager the reported
    tokens count ``group size x groups`` layers (padding included), which equals every layer for
    Gemma 2 / gpt-oss (1:1) and exceeds it when the last group is padded (Gemma 3 27B: 70 for 62).
    Mllama: every decoder layer, cross-attention ones included, gets a cache (vLLM V0 sizes the
    cache per layer alike; matches the 6001 blocks / 14.65 GiB of vLLM PR #12126).
    """
    size, full, local = kv_groups(spec, hybrid)
    layers = size * (full + local)
    if spec.mla is not None and latent:
        return layers * spec.mla.latent * kv_dtype_bytes
    if spec.mla is not None:
        return 2 * layers * max(1, spec.num_kv_heads // tp) * PRE_MLA_HEAD_SIZE * kv_dtype_bytes
    heads = max(1, spec.num_kv_heads // tp)
    return 2 * layers * heads * spec.head_dim * kv_dtype_bytes


def kv_tokens_needed(spec: ModelSpec, max_model_len: int, batched_tokens: int, hybrid: bool) -> int:
    """Reported KV tokens vLLM needs to admit ``max_model_len`` (its ``_check_enough_kv_cache_memory``).

    Full-attention groups need ``max_model_len`` tokens, sliding-window groups only
    ``min(window - 1 + max_num_batched_tokens, max_model_len)`` (+ a block).
    """
    size, full, local = kv_groups(spec, hybrid)
    if not local:
        return max_model_len
    window = min(spec.sliding_window - 1 + batched_tokens, max_model_len) + BLOCK_SIZE
    return -(-(full * max_model_len + local * window) // (full + local))


def max_len_for_tokens(spec: ModelSpec, kv_tokens: int, batched_tokens: int, hybrid: bool) -> int:
    """The largest ``max_model_len`` a cache of ``kv_tokens`` reported tokens admits (inverse of the above)."""
    size, full, local = kv_groups(spec, hybrid)
    if not local:
        return kv_tokens
    window = spec.sliding_window - 1 + batched_tokens + BLOCK_SIZE
    longest = (kv_tokens * (full + local) - local * window) // full
    return longest if longest >= window else kv_tokens


# --------------------------------------------------------------------------- activations


def default_max_num_batched_tokens(
    max_model_len: int, multimodal: bool, engine: str = "v0", gpu_memory_gib: float = 0.0, a100: bool = False
) -> int:
    """vLLM's default ``max_num_batched_tokens`` (the profiling batch).

    V0: text models above 32K context get chunked prefill (512 tokens); otherwise
    ``max(max_model_len, 2048)``, and at least 5120 for multimodal models. V1 (``vllm serve``):
    a chunked budget of 8192 on GPUs of 70 GiB or more other than A100, else 2048.
    """
    if engine != "v0" and ENGINE_PROFILES.get(engine, ENGINE_PROFILES["v1"]).v1:
        large = gpu_memory_gib >= LARGE_GPU_GIB and not a100
        return V1_LARGE_GPU_BATCHED_TOKENS if large else V1_BATCHED_TOKENS
    if max_model_len > CHUNKED_PREFILL_THRESHOLD and not multimodal:
        return CHUNKED_PREFILL_TOKENS
    tokens = max(max_model_len, DEFAULT_BATCHED_TOKENS)
    return max(tokens, MULTIMODAL_BATCHED_TOKENS) if multimodal else tokens


def _text_activation_bytes(
    spec: ModelSpec, tokens: int, seqs: int, tp: int, act_bytes: int, profile: EngineProfile
) -> int:
    """Peak of the decoder profiling run: the MLP of the batch or the sampler, whichever is larger.

    MLP peak per token: gate_up output (2 x I) + activation output (I) + ~3 hidden-size buffers
    (residual, normed input, output); MoE multiplies I by the experts each token visits.
    Sampler: ``sampler_copies`` float32 copies of the logits of the sampled rows over the whole
    vocabulary (gathered on the driver rank, so TP does not divide them: top-k/top-p sort values and
    indices, softmax, cumsum), plus a fixed part. V0 samples one row per dummy sequence,
    ``min(max_num_seqs, max_num_batched_tokens)``; V1's warm-up ``max_num_seqs`` rows.
    """
    routed = spec.intermediate_size * (spec.experts_per_token if spec.num_experts > 1 else 1)
    inter = max(routed + spec.shared_expert_intermediate_size, spec.dense_intermediate_size) // tp
    mlp = tokens * (3 * inter + 3 * spec.hidden_size) * act_bytes
    rows = seqs if profile.v1 else min(seqs, tokens)
    sampler = profile.sampler_copies * rows * spec.vocab_size * LOGITS_BYTES + profile.sampler_base_gib * GIB
    return int(max(mlp, sampler))


# vLLM's Qwen2/2.5-VL profiling video (vllm/model_executor/models/qwen2_vl.py, `_MAX_FRAMES_PER_VIDEO`,
# `get_num_frames_with_most_features`, `Qwen2VLDummyInputsBuilder.get_dummy_mm_data`): at most 14 frames of
# the largest image, as many as fit max_model_len; frames are padded to `temporal_patch_size` (2) and merged
# in pairs, so one video holds up to 7 images' worth of patches.
QWEN_VL_PROFILE_FRAMES = 14
QWEN_VL_TEMPORAL_PATCH = 2


def qwen_vl_profile_groups(spec: ModelSpec, max_model_len: int) -> int:
    """Temporal groups (frame pairs) of the dummy video V1 profiles a Qwen-VL model with (1: an image).

    vLLM's `_get_max_video_frames(seq_len)` counts frames up while the video's tokens (``grid_t x`` tokens
    of the largest image, ``grid_t = (n + n % 2) // 2``) stay within ``max_model_len``; the count is capped
    at `_MAX_FRAMES_PER_VIDEO` (14). V1's `profile_run` then encodes the modality with the most tokens per
    item: the video whenever it spans more than one frame pair.
    """
    v = spec.vision
    if v is None or v.kind != "qwen_vl":
        return 1
    frames = 1
    while frames < QWEN_VL_PROFILE_FRAMES:
        nxt = frames + 1
        if (nxt + nxt % QWEN_VL_TEMPORAL_PATCH) // QWEN_VL_TEMPORAL_PATCH * v.tokens_per_image > max_model_len:
            break
        frames = nxt
    return max(1, (frames + frames % QWEN_VL_TEMPORAL_PATCH) // QWEN_VL_TEMPORAL_PATCH)


def _qwen_vl_video_bytes(spec: ModelSpec, groups: int, items: int, tp: int, act_bytes: int, batched: int) -> int:
    """Peak of V1's Qwen-VL encoder profiling: ``groups`` frame pairs of the largest image per item.

    Per patch (vllm/model_executor/models/qwen2_5_vl.py, eager encoder with vLLM's native custom ops):
    the residual stream and its normed copy (2 x hidden), the MLP's gate_up output (2 x I) with
    `SiluAndMul`'s native silu and product (I each; 2 x I in all for Qwen2-VL's fc1/QuickGELU), and the
    pixel input (``channels x temporal_patch x patch^2``). vLLM 0.23 logged ~15.2 GiB for Qwen2.5-VL-7B at
    max_model_len 128,000 (one 14-frame video, 114,688 tokens); this gives 14.9 GiB.
    """
    v = spec.vision
    assert v is not None
    per_item = groups * v.tokens_per_image
    count = max(1, min(items, max(batched, per_item) // per_item))
    patches = count * groups * v.patches_per_tile
    inter = (4 if v.gated_mlp else 2) * v.intermediate_size // tp
    return patches * (2 * v.hidden_size + inter + v.input_per_patch) * act_bytes


def _vision_activation_bytes(spec: ModelSpec, images: int, tp: int, act_bytes: int, batched: int = 0) -> int:
    """Peak of profiling the vision encoder on dummy images.

    Mllama (an encoder-decoder under V0): ``max_num_seqs`` images, one per sequence. Encoder phase:
    per image token, the kept hidden states (5 intermediate layers + current) plus the MLP's two
    intermediate buffers, plus a (tiles x patches)^2 attention mask per image. Decoder phase: the
    projected cross-attention states + one cross layer's K/V for all image tokens. The larger phase
    counts (calibrated on vLLM PR #12126).

    Other towers (LLaVA/CLIP, Qwen-VL, Pixtral, SigLIP, Llama 4): vLLM profiles as many of the
    largest images as its encoder budget (``max(max_num_batched_tokens, tokens of one image)``
    language-model tokens) holds, never more than ``max_num_seqs``: per encoder patch, the hidden
    state and the MLP's two (three when gated) intermediate buffers.
    """
    v = spec.vision
    if v is None or images <= 0:
        return 0
    if not v.mllama:
        per_image = v.tokens_per_image
        count = max(1, min(images, max(batched, per_image) // per_image))
        patches = count * v.tiles * v.patches_per_tile
        return patches * (v.hidden_size + (3 if v.gated_mlp else 2) * v.intermediate_size // tp) * act_bytes
    tokens = images * v.tiles * v.padded_patches_per_tile
    per_token = v.hidden_size * v.kept_hidden_states + 2 * v.intermediate_size // tp
    encoder = tokens * per_token * act_bytes
    encoder += images * (v.tiles * v.padded_patches_per_tile) ** 2 * act_bytes
    cross_kv = 2 * max(1, spec.num_kv_heads // tp) * spec.head_dim
    decoder = tokens * (spec.hidden_size + cross_kv) * act_bytes
    return max(encoder, decoder)


def _cuda_graph_gib(spec: ModelSpec, enforce_eager: bool) -> float:
    """Rough CUDA graph pool of vLLM's decode graphs (0 with enforce_eager)."""
    if enforce_eager:
        return 0.0
    return CUDA_GRAPH_BASE_GIB + CUDA_GRAPH_PER_LAYER_GIB * spec.num_layers


# --------------------------------------------------------------------------- the budget


@dataclass(frozen=True)
class Budget:
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


def budget(spec: ModelSpec, req: PlanRequest, total: float) -> Budget:
    """Memory accounting of a resolved request on a GPU of ``total`` GiB."""
    assert req.max_num_batched_tokens is not None  # resolve() filled it
    tp = req.accelerator_count
    dtype_bytes = DTYPE_BYTES[req.dtype]
    if req.total_size:
        scale = 1.0 if spec.quant.method else dtype_bytes / DTYPE_BYTES.get(spec.torch_dtype, 2)
        raw = (req.total_size - mtp_bytes(spec)) * scale
    else:
        raw = weight_bytes(spec, dtype_bytes)
    raw += layout_extra_bytes(spec, tp)
    rope = spec.max_position_embeddings * spec.head_dim * dtype_bytes  # cos/sin cache
    whole = replicated_bytes(spec, dtype_bytes) * (1 - 1 / tp)  # held whole on every rank, not 1 / TP
    weights = (raw / tp + whole + rope) / GIB
    profile = engine_profile(req.vllm_version)
    tokens, seqs = req.max_num_batched_tokens, req.max_num_seqs
    text_act = _text_activation_bytes(spec, tokens, seqs, tp, dtype_bytes, profile) / GIB
    if profile.v1 and spec.vision is not None and spec.vision.kind == "qwen_vl":
        groups = qwen_vl_profile_groups(spec, req.max_model_len or spec.context_limit)
        vision_bytes = _qwen_vl_video_bytes(spec, groups, req.max_num_seqs, tp, dtype_bytes, tokens)
    else:
        vision_bytes = _vision_activation_bytes(spec, req.max_num_seqs, tp, dtype_bytes, tokens)
    vision_act = vision_bytes / GIB
    graphs = _cuda_graph_gib(spec, req.enforce_eager)
    headroom = total * (1 - req.gpu_memory_utilization) - CUDA_CONTEXT_GIB
    non_torch = non_torch_gib(profile, tp, req.accelerator_type, req.vllm_version)
    usable = total * req.gpu_memory_utilization
    return Budget(total, usable, weights, text_act, vision_act, non_torch, graphs, max(0.0, graphs - headroom))


# The model's own error band on the memory left for the KV cache (GiB): the larger of (a) a fixed
# part for the profiler's constants + a share of the fitted non-KV terms (activation peak +
# non-torch) + a share of the weights (checkpoint vs counted sizes), and (b) a share of the KV
# memory itself (the largest calibration error is 6.5 %). Chosen so that every calibration
# point's measured KV cache lies inside [low, high] (tests/test_planner_calibration.py checks it).
BAND_BASE_GIB = 0.25
BAND_NON_KV_SHARE = 0.10
BAND_WEIGHTS_SHARE = 0.005
BAND_KV_SHARE = 0.08


def kv_band_gib(figures: Budget) -> float:
    """Half-width of the error band on the available KV memory, in GiB."""
    non_kv = max(figures.text_act, figures.vision_act) + figures.non_torch
    absolute = BAND_BASE_GIB + BAND_NON_KV_SHARE * non_kv + BAND_WEIGHTS_SHARE * figures.weights
    return max(absolute, BAND_KV_SHARE * max(figures.available, 0.0))


def kv_tokens(available_gib: float, kv_per_token: int) -> int:
    """KV-cache capacity in tokens, rounded down to whole blocks of 16."""
    if available_gib <= 0:
        return 0
    return int(available_gib * GIB // (kv_per_token * BLOCK_SIZE)) * BLOCK_SIZE


def image_tokens(spec: ModelSpec) -> int:
    """Cross-attention KV slots one image request takes (Mllama: 4 tiles x 1601 tokens)."""
    v = spec.vision
    if v is None or not spec.cross_attention_layers:
        return 0
    return v.tiles * v.patches_per_tile
