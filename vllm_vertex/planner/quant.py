"""Reading a checkpoint's weight quantisation (``quantization_config``) into bytes per parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vllm_vertex.planner._base import PlanError

__all__ = ["FP8_METHODS", "INT_METHODS", "QuantSpec", "parse_quantization"]

FP8_METHODS = frozenset({"fp8", "fbgemm_fp8"})
INT_METHODS = frozenset({"awq", "gptq", "awq_marlin", "gptq_marlin"})


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


def parse_quantization(cfg: Mapping[str, Any]) -> QuantSpec:
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
