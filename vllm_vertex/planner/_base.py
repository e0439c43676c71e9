"""Units and dtype sizes (shared by the other planner modules); the planner raises ``errors.PlanError``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vllm_vertex.errors import PlanError

__all__ = ["BLOCK_SIZE", "DTYPE_BYTES", "GIB", "KV_DTYPE_BYTES", "positive_int"]

GIB = 1024**3
BLOCK_SIZE = 16  # vLLM's default KV block size (tokens), V0 and V1 on GPU.
DTYPE_BYTES: dict[str, int] = {"bfloat16": 2, "float16": 2, "half": 2, "float32": 4, "float": 4}
KV_DTYPE_BYTES: dict[str, int] = {"fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1}


def positive_int(cfg: Mapping[str, Any], key: str, where: str, default: Any = None) -> int:
    """Reads a positive int field of a config or raises PlanError naming it."""
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise PlanError(
            f"config field {where}{key} is missing or not a positive integer (got {value!r}); "
            "pass the model's config.json from its Hugging Face repo."
        )
    return value
