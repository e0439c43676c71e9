"""The longest ``max_model_len`` vLLM accepts for a model, derived from ``config.json`` as vLLM derives it. Pure.

Follows vLLM's ``_get_and_verify_max_len`` (vllm/config/model.py) and
``derive_max_model_len_and_key`` (vllm/transformers_utils/model_arch_config_convertor.py):

* the smallest of the length keys of the text config (``max_position_embeddings``,
  ``n_positions``, ``max_seq_len``, ``seq_length``, ``model_max_length``,
  ``max_target_positions``, ``max_sequence_length``, ``max_seq_length``, ``seq_len``), except
  that ``model_max_length`` (Command-R) wins when present;
* times the RoPE scaling ``factor``, except for the types whose ``max_position_embeddings`` is
  already scaled (``su``, ``longrope``, ``llama3``, ``yarn``, ``deepseek_yarn``,
  ``deepseek_llama_scaling``) and for Gemma 3;
* a larger ``max_model_len`` is refused (vLLM raises ``ValueError`` at start-up unless
  ``VLLM_ALLOW_LONG_MAX_MODEL_LEN`` is set, which this project never sets), unless the
  config's own ``model_max_length`` allows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ModelContext", "context_problem", "model_context"]

LENGTH_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "seq_length",
    "model_max_length",
    "max_target_positions",
    "max_sequence_length",
    "max_seq_length",
    "seq_len",
)
PRESCALED_ROPE = ("su", "longrope", "llama3", "yarn", "deepseek_yarn", "deepseek_llama_scaling")


@dataclass(frozen=True)
class ModelContext:
    """The derived limit, the config key it came from, the RoPE factor applied, and ``model_max_length``."""

    tokens: int
    key: str
    rope_factor: float = 1.0
    model_max_length: int | None = None

    def describe(self) -> str:
        """E.g. ``max_position_embeddings=8192 × RoPE factor 4.0``."""
        base = round(self.tokens / self.rope_factor)
        return f"{self.key}={base}" + (f" × RoPE factor {self.rope_factor:g}" if self.rope_factor != 1 else "")


def _rope_parameters(text: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The RoPE settings (``rope_scaling``, or Transformers 5's ``rope_parameters``, maybe per layer type)."""
    rope = text.get("rope_parameters") or text.get("rope_scaling")
    if not isinstance(rope, Mapping):
        return []
    if all(isinstance(v, Mapping) for v in rope.values()) and rope:  # {"full_attention": {...}, ...}
        return list(rope.values())
    return [rope]


def model_context(config: Mapping[str, Any]) -> ModelContext | None:
    """The model's longest context as vLLM derives it, or None when the config names no length."""
    text = config.get("text_config") or config.get("llm_config") or config
    found = [(int(text[k]), k) for k in LENGTH_KEYS if isinstance(text.get(k), int | float) and text.get(k)]
    if not found:
        return None
    tokens, key = min(found)
    if isinstance(text.get("model_max_length"), int | float) and text["model_max_length"]:
        tokens, key = int(text["model_max_length"]), "model_max_length"
    factor = 1.0
    model_type = str(text.get("model_type") or config.get("model_type") or "")
    for rope in _rope_parameters(text):
        kind = rope.get("rope_type") or rope.get("type") or "default"
        if kind not in PRESCALED_ROPE and "gemma3" not in model_type and rope.get("factor") is not None:
            factor = float(rope["factor"])
    max_length = config.get("model_max_length") if "model_max_length" in config else text.get("model_max_length")
    return ModelContext(int(tokens * factor), key, factor, int(max_length) if max_length else None)


def context_problem(config: Mapping[str, Any], max_model_len: int, model_id: str = "the model") -> str | None:
    """Why vLLM would refuse ``max_model_len`` for this config (naming the limit and the fix), or None."""
    limit = model_context(config)
    if limit is None or max_model_len <= limit.tokens:
        return None
    if limit.model_max_length and max_model_len <= limit.model_max_length:
        return None
    return (
        f"max_model_len {max_model_len:,} is above {model_id}'s context of {limit.tokens:,} tokens "
        f"({limit.describe()} in its config.json, as vLLM derives it); vLLM would refuse to start. "
        f"Set max_model_len to at most {limit.tokens}."
    )
