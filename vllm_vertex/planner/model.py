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

__all__ = ["ModelSpec", "VisionSpec", "parse_model_config", "tp_problem"]

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
        context_tokens: The longest ``max_model_len`` vLLM accepts, derived as vLLM derives it
            (length keys, RoPE factor, ``model_max_length``: see ``context.py``); 0 when the
            config names none, and ``max_position_embeddings`` stands in.
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

    @property
    def context_limit(self) -> int:
        """The longest ``max_model_len`` vLLM accepts for this model."""
        return self.context_tokens or self.max_position_embeddings


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
        quant=parse_quantization(config),
        vision=_vision_spec(vc) if isinstance(vc, Mapping) else None,
        context_tokens=_context_tokens(config),
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
