"""Reading a model: the figures of a Hugging Face ``config.json`` the planner needs (:class:`ModelSpec`).

Covers the decoder (dense, MoE, GQA), its quantisation (:mod:`.quant`) and a vision tower
(Mllama's tiled encoder or a CLIP/SigLIP-style one). Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vllm_vertex.errors import PlanError
from vllm_vertex.planner._base import positive_int
from vllm_vertex.planner.context import model_context
from vllm_vertex.planner.quant import QuantSpec, parse_quantization

__all__ = ["MLASpec", "ModelSpec", "VisionSpec", "parse_model_config", "tp_problem"]

_field = positive_int


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
        kind: ``mllama``, ``qwen_vl`` (Qwen2/2.5/3-VL), ``pixtral`` (Mistral 3), ``siglip`` (Gemma 3),
            ``llama4``, ``internvit`` (InternVL: tiles of 448 px, pixel-shuffled 4:1, an ``mlp1``
            projector) or ``clip`` (LLaVA and other CLIP-style towers).
        merge: Patches merged into one language-model token (Qwen-VL / Pixtral spatial merge squared;
            Gemma 3 pools 4096 patches to 256 tokens: 16).
        gated_mlp: The encoder MLP is gated (Qwen2.5-VL, Pixtral): three projections instead of two.
        input_per_patch: Pixel elements per encoder patch (Qwen-VL: channels x temporal_patch_size x
            patch_size^2 = 1176), held while the encoder runs; 0 where not modelled.
        position_embeddings: Rows of a learned position table (Qwen3-VL ``num_position_embeddings``).
        deepstack_mergers: Extra patch mergers fed from intermediate layers (Qwen3-VL
            ``deepstack_visual_indexes``: vLLM's ``Qwen3_VisionTransformer.deepstack_merger_list``).
    """

    hidden_size: int
    intermediate_size: int
    num_layers: int
    tiles: int
    patches_per_tile: int
    kept_hidden_states: int
    output_dim: int
    mllama: bool
    kind: str = "clip"
    merge: int = 1
    gated_mlp: bool = False
    input_per_patch: int = 0
    position_embeddings: int = 0
    deepstack_mergers: int = 0

    @property
    def tokens_per_image(self) -> int:
        """Language-model tokens of the largest image (patches / merge)."""
        return max(1, self.tiles * self.patches_per_tile // self.merge)

    @property
    def padded_patches_per_tile(self) -> int:
        """Tokens per tile as the Mllama encoder runs them (padded to a multiple of 8: 1608)."""
        return self.patches_per_tile + (8 - self.patches_per_tile % 8) % 8 if self.mllama else self.patches_per_tile


@dataclass(frozen=True)
class MLASpec:
    """DeepSeek multi-head latent attention (``kv_lora_rank`` etc. of the config).

    vLLM caches one latent of ``kv_lora_rank + qk_rope_head_dim`` elements per token per layer,
    the same on every tensor-parallel rank (not per head, not split by TP).
    """

    q_lora_rank: int
    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int

    @property
    def latent(self) -> int:
        """Cached elements per token per layer."""
        return self.kv_lora_rank + self.qk_rope_head_dim


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
        context_tokens: The longest ``max_model_len`` vLLM accepts, derived as vLLM derives it
            (length keys, RoPE factor, ``model_max_length``: see ``context.py``); 0 when the
            config names none, and ``max_position_embeddings`` stands in.
        moe_layers: Decoder layers with a sparse MoE block (the others have a dense MLP of
            ``dense_intermediate_size``), as vLLM's model code picks them.
        dense_intermediate_size: MLP width of the dense layers of an MoE model.
        shared_expert_intermediate_size: Total width of the shared expert(s) of each MoE layer.
        shared_expert_gate: Qwen2-MoE's sigmoid gate on the shared expert (``hidden x 1``).
        expert_bias: The experts' projections have biases (gpt-oss).
        mla: DeepSeek multi-head latent attention, if any.
        sliding_window: Window of the sliding-window layers (0: none); for Mistral / Phi-3, the config's window
            vLLM applies to every layer, which the planner does not model (``sliding_window_layers`` 0:
            its KV is counted as full attention, and the family stays outside calibration).
        sliding_window_layers: Layers that attend within ``sliding_window`` only (Gemma 2/3, gpt-oss,
            Llama 4's chunked local attention).
        mtp_layers: Multi-token-prediction layers the checkpoint stores after the decoder
            (``num_nextn_predict_layers``: DeepSeek-V3/R1, GLM-4.5), which vLLM skips unless they serve as a
            speculative draft: they count in ``total_size``, not in the weights vLLM loads.
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
    context_tokens: int = 0
    moe_layers: tuple[int, ...] = ()
    dense_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0
    shared_expert_gate: bool = False
    expert_bias: bool = False
    mla: MLASpec | None = None
    sliding_window: int = 0
    sliding_window_layers: int = 0
    mtp_layers: int = 0

    @property
    def context_limit(self) -> int:
        """The longest ``max_model_len`` vLLM accepts for this model."""
        return self.context_tokens or self.max_position_embeddings


# Transformers' config defaults for keys some published config.json files leave out (google/gemma-3-*-it
# name only the sizes that differ: Gemma3TextConfig fills vocab_size, heads, head_dim, the window).
TRANSFORMERS_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {
        "vocab_size": 262208,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "max_position_embeddings": 131072,
        "sliding_window": 4096,
        "sliding_window_pattern": 6,
    },
}
TRANSFORMERS_DEFAULTS["gemma3"] = TRANSFORMERS_DEFAULTS["gemma3_text"]

# Model types vLLM builds with Llama's layers (why: coverage.py, where they join the dense family).
LLAMA_LAYER_TYPES = frozenset({"mistral", "phi3"})

QWEN_VL_MAX_PIXELS = 12845056  # Qwen2/2.5-VL image processor default max_pixels (16384 x 28 x 28)
QWEN_VL_MIN_PIXELS = 3136  # ... and min_pixels (4 x 28 x 28)
QWEN3_VL_MAX_PIXELS = 16777216  # Qwen3-VL's preprocessor_config.json size.longest_edge (4096 x 4096, 16-px patches)


def _vision_kind(vc: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """Which encoder a ``vision_config`` describes (see :attr:`VisionSpec.kind`)."""
    vtype = str(vc.get("model_type", ""))
    top = str(config.get("model_type", ""))
    if "max_num_tiles" in vc or vtype == "mllama_vision_model":
        return "mllama"
    if top.startswith(("qwen2_vl", "qwen2_5_vl", "qwen3_vl")) or vtype.startswith(("qwen2", "qwen3")):
        return "qwen_vl"
    if vtype == "pixtral" or top == "mistral3":
        return "pixtral"
    if vtype.startswith("siglip") and top.startswith("gemma3"):
        return "siglip"
    if vtype.startswith("llama4") or top == "llama4":
        return "llama4"
    if vtype.startswith("intern_vit") or top == "internvl_chat":
        return "internvit"
    return "clip"


def _vision_spec(vc: Mapping[str, Any], config: Mapping[str, Any] | None = None) -> VisionSpec:
    """Parses a ``vision_config`` (Mllama tiled encoder, Qwen-VL, Pixtral, SigLIP, Llama 4, CLIP)."""
    config = config or {}
    kind = _vision_kind(vc, config)
    patch = _field(vc, "patch_size", "vision_config.")
    if kind == "qwen_vl":  # no image_size: dynamic resolution up to max_pixels, merged 2x2
        width = _field(vc, "embed_dim", "vision_config.", vc.get("hidden_size"))
        layers = _field(vc, "depth", "vision_config.", vc.get("num_hidden_layers"))
        ratio = vc.get("mlp_ratio", 4)
        inter = _field(vc, "intermediate_size", "vision_config.", int(width * ratio))
        qwen3 = any(str(c.get("model_type", "")).startswith("qwen3") for c in (config, vc))
        default = QWEN3_VL_MAX_PIXELS if qwen3 else QWEN_VL_MAX_PIXELS
        pixels = int(vc.get("max_pixels") or config.get("max_pixels") or default)
        merge = _field(vc, "spatial_merge_size", "vision_config.", 2) ** 2
        out = int(vc.get("out_hidden_size") or (vc.get("hidden_size") if "embed_dim" in vc else 0) or width)
        return VisionSpec(
            hidden_size=width,
            intermediate_size=inter,
            num_layers=layers,
            tiles=1,
            patches_per_tile=pixels // (patch * patch),
            kept_hidden_states=1,
            output_dim=out,
            mllama=False,
            kind=kind,
            merge=merge,
            gated_mlp=str(config.get("model_type", "")).startswith("qwen2_5_vl"),
            input_per_patch=int(vc.get("in_chans", vc.get("in_channels", 3)))
            * int(vc.get("temporal_patch_size", 2))
            * patch
            * patch,
            position_embeddings=int(vc.get("num_position_embeddings") or 0),
            deepstack_mergers=len(vc.get("deepstack_visual_indexes") or ()),
        )
    hidden = _field(vc, "hidden_size", "vision_config.")
    image = _field(vc, "image_size", "vision_config.")
    mllama = kind == "mllama"
    patches = (image // patch) ** 2 + (0 if kind in ("pixtral", "siglip") else 1)
    layers = _field(vc, "num_hidden_layers", "vision_config.") + int(vc.get("num_global_layers", 0))
    merge = 1
    if kind == "pixtral":
        merge = int(config.get("spatial_merge_size", 1)) ** 2
    elif kind == "siglip":
        merge = max(1, patches // int(config.get("mm_tokens_per_image", patches)))
    elif kind == "llama4":
        merge = round(1 / float(vc.get("pixel_shuffle_ratio", 1.0)) ** 2)
    elif kind == "internvit":  # 448-px tiles, 1024 patches pixel-shuffled to 256 tokens each
        merge = round(1 / float(config.get("downsample_ratio", 0.5)) ** 2)
    tiles = int(vc.get("max_num_tiles", 1))
    if kind == "internvit":  # vLLM's dummy image (internvl.py, resolve_internvl_min_max_num): the most
        tiles = int(config.get("max_dynamic_patch", 12)) if config.get("dynamic_image_size", True) else 1
        tiles += int(bool(config.get("use_thumbnail")) and tiles != 1)  # tiles, + the thumbnail
    return VisionSpec(
        hidden_size=hidden,
        intermediate_size=_field(vc, "intermediate_size", "vision_config.", 4 * hidden),
        num_layers=layers,
        tiles=tiles,
        patches_per_tile=patches,
        kept_hidden_states=len(vc.get("intermediate_layers_indices", [])) + 1,
        output_dim=int(vc.get("vision_output_dim", hidden)),
        mllama=mllama,
        kind=kind,
        merge=merge,
        gated_mlp=kind == "pixtral",
    )


def _int(cfg: Mapping[str, Any], *keys: str) -> int:
    """The first of ``keys`` that is a positive int in ``cfg`` (0 when none is)."""
    for key in keys:
        value = cfg.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def _moe_fields(text: Mapping[str, Any], layers: int, where: str) -> dict[str, Any]:
    """The MoE figures as vLLM's model code reads them (qwen2_moe, qwen3_moe, mixtral, deepseek_v2/v3,
    llama4, gpt_oss): which layers are sparse, expert / dense / shared widths."""
    experts = _int(text, "num_local_experts", "num_experts", "n_routed_experts")
    if experts <= 1:
        return {}
    kind = str(text.get("model_type", ""))
    dense = _int(text, "intermediate_size_mlp", "intermediate_size")
    expert = _int(text, "moe_intermediate_size") or _field(text, "intermediate_size", where)
    if "first_k_dense_replace" in text:  # DeepSeek V2/V3: dense first k layers, then every moe_layer_freq
        first, freq = int(text.get("first_k_dense_replace") or 0), int(text.get("moe_layer_freq") or 1)
        sparse = [i for i in range(layers) if i >= first and i % freq == 0]
    elif "interleave_moe_layer_step" in text:  # Llama 4: every step-th layer
        step = int(text.get("interleave_moe_layer_step") or 0)
        sparse = [i for i in range(layers) if step > 0 and (i + 1) % step == 0]
    else:  # Qwen2/3-MoE (decoder_sparse_step, mlp_only_layers), Mixtral, gpt-oss: every layer
        step = int(text.get("decoder_sparse_step") or 1)
        only = set(text.get("mlp_only_layers") or ())
        sparse = [i for i in range(layers) if i not in only and (i + 1) % step == 0]
    if not sparse:  # every layer dense (mlp_only_layers): a dense model of intermediate_size
        return {}
    shared = _int(text, "shared_expert_intermediate_size")
    if not shared and _int(text, "n_shared_experts"):
        shared = _int(text, "n_shared_experts") * expert
    if kind.startswith("llama4"):
        shared = expert  # Llama4MoE: one shared expert of the experts' width
    return {
        "num_experts": experts,
        "intermediate_size": expert,
        "dense_intermediate_size": dense or expert,
        "moe_layers": tuple(sparse),
        "shared_expert_intermediate_size": shared,
        "shared_expert_gate": bool(_int(text, "shared_expert_intermediate_size")),
        "expert_bias": kind == "gpt_oss",
    }


def _mla(text: Mapping[str, Any], where: str) -> MLASpec | None:
    """DeepSeek's latent attention figures, when the config has ``kv_lora_rank``."""
    if not _int(text, "kv_lora_rank"):
        return None
    return MLASpec(
        q_lora_rank=_int(text, "q_lora_rank"),
        kv_lora_rank=_field(text, "kv_lora_rank", where),
        qk_nope_head_dim=_field(text, "qk_nope_head_dim", where),
        qk_rope_head_dim=_field(text, "qk_rope_head_dim", where),
        v_head_dim=_field(text, "v_head_dim", where),
    )


def _sliding(text: Mapping[str, Any], layers: int) -> tuple[int, int]:
    """(window, layers that use it) of interleaved local attention, as vLLM builds the layers.

    ``layer_types`` when the config lists them (gpt-oss, newer Gemma 3); else Gemma 2 (every other
    layer), Gemma 3 (all but every ``sliding_window_pattern``-th), Llama 4 (chunked local attention on
    the RoPE layers, ``no_rope_layers`` = 1).
    """
    kind = str(text.get("model_type", ""))
    window = _int(text, "sliding_window")
    types = text.get("layer_types")
    if isinstance(types, list) and types and window:
        return window, sum(1 for t in types if "sliding" in str(t))
    if kind == "gemma2" and window:
        return window, (layers + 1) // 2
    if kind.startswith("gemma3") and window:
        pattern = _int(text, "sliding_window_pattern") or 6
        return window, sum(1 for i in range(layers) if (i + 1) % pattern)
    if kind in LLAMA_LAYER_TYPES and window:  # Mistral-7B v0.1, Phi-3: one window on every layer, not modelled
        return window, 0
    chunk = _int(text, "attention_chunk_size")
    if kind.startswith("llama4") and chunk:
        flags = text.get("no_rope_layers")
        interval = _int(text, "no_rope_layer_interval") or 4
        local = sum(1 for f in flags if f) if isinstance(flags, list) and flags else layers - layers // interval
        return chunk, local
    return 0, 0


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
    text = config.get("text_config") or config.get("llm_config") or config  # InternVL: llm_config
    where = ("text_config." if "text_config" in config else "llm_config.") if text is not config else ""
    kind = str(text.get("model_type") or config.get("model_type", ""))
    text = {**TRANSFORMERS_DEFAULTS.get(kind, {}), **text}  # Gemma 3's config.json names few keys
    heads = _field(text, "num_attention_heads", where)
    hidden = _field(text, "hidden_size", where)
    head_dim = text.get("head_dim") or hidden // heads
    vc = config.get("vision_config")
    layers = _field(text, "num_hidden_layers", where)
    moe = _moe_fields(text, layers, where)
    window, local_layers = _sliding(text, layers)
    model_type = str(text.get("model_type") or config.get("model_type", ""))
    return ModelSpec(
        model_type=model_type,
        num_layers=layers,
        hidden_size=hidden,
        intermediate_size=moe.pop("intermediate_size", 0) or _field(text, "intermediate_size", where),
        num_heads=heads,
        num_kv_heads=_field(text, "num_key_value_heads", where, heads),
        head_dim=_field({"head_dim": head_dim}, "head_dim", where),
        vocab_size=_field(text, "vocab_size", where),
        tie_word_embeddings=_tied(config, text),
        max_position_embeddings=_field(text, "max_position_embeddings", where, 4096),
        torch_dtype=str(text.get("torch_dtype") or config.get("torch_dtype") or text.get("dtype") or "bfloat16"),
        experts_per_token=int(text.get("num_experts_per_tok", 1) or 1),
        qkv_bias=bool(text.get("attention_bias", False)) or model_type.startswith("qwen2"),
        cross_attention_layers=len(text.get("cross_attention_layers") or []),
        quant=parse_quantization(config),
        vision=_vision_spec(vc, config) if isinstance(vc, Mapping) else None,
        context_tokens=_context_tokens(config),
        mla=_mla(text, where),
        sliding_window=window,
        sliding_window_layers=local_layers,
        mtp_layers=int(text.get("num_nextn_predict_layers") or 0),
        **moe,
    )


def _context_tokens(config: Mapping[str, Any]) -> int:
    """``ModelSpec.context_tokens``: vLLM's limit, or the config's own larger ``model_max_length``."""
    limit = model_context(config)
    if limit is None:
        return 0
    return max(limit.tokens, limit.model_max_length or 0)


def tp_problem(spec: ModelSpec, tp: int) -> str | None:
    """vLLM's divisibility rules for tensor parallelism, or None when they hold."""
    if spec.num_heads % tp:
        return f"Total number of attention heads ({spec.num_heads}) must be divisible by tensor parallel size ({tp})."
    kv = spec.num_kv_heads
    if (kv >= tp and kv % tp) or (kv < tp and tp % kv):
        return f"Number of KV heads ({kv}) and tensor parallel size ({tp}) must divide one another."
    return None
