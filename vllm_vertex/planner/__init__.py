"""Capacity planner: predicts vLLM's start-up memory verdict before a GPU is rented.

A small package, read in this order (docs/planner.md describes the model):

* :mod:`.model` and :mod:`.quant`: reading a model's ``config.json`` (:class:`ModelSpec`,
  quantisation, vision tower);
* :mod:`.request`: the deployment to check (:class:`PlanRequest`) and vLLM's defaults;
* :mod:`.memory`: the memory model (weights, activations, non-KV memory, KV cache);
* :mod:`.verdict`: the verdict and its messages (:class:`PlanResult`);
* :mod:`.configs`: the offline configs shipped in ``vllm_vertex/model_configs`` (the only I/O);
* :mod:`.plans`: :func:`plan` and :func:`plan_preset`, which put them together.

The names below are served lazily (``__lazy__``, PEP 562): importing one submodule, e.g. the
context limit that validation needs, does not import the whole planner, so a pipeline step carries
only the modules it runs (``components/_runtime.py`` reads ``__lazy__`` to follow these names).

It flags the seed's four deploy failures: weights that do not fit, a KV cache smaller than
``max_model_len``, the Mllama profiling OOM with ``max_num_seqs`` dummy images, and a tensor
parallel size that does not divide the attention heads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vllm_vertex.errors import PlanError

if TYPE_CHECKING:  # the lazy names below, for type checkers
    from vllm_vertex.planner._base import BLOCK_SIZE, DTYPE_BYTES, GIB, KV_DTYPE_BYTES
    from vllm_vertex.planner.configs import (
        _MODEL_CONFIG_DIR,
        _index,
        checkpoint_total_size,
        load_model_config,
        shipped_config,
    )
    from vllm_vertex.planner.memory import default_max_num_batched_tokens, kv_bytes_per_token, weight_bytes
    from vllm_vertex.planner.model import ModelSpec, VisionSpec, parse_model_config, tp_problem
    from vllm_vertex.planner.plans import plan, plan_preset
    from vllm_vertex.planner.quant import QuantSpec
    from vllm_vertex.planner.request import PlanRequest
    from vllm_vertex.planner.verdict import PlanResult, Verdict

__lazy__: dict[str, str] = {  # name -> the submodule that defines it
    "BLOCK_SIZE": "_base",
    "DTYPE_BYTES": "_base",
    "GIB": "_base",
    "KV_DTYPE_BYTES": "_base",
    "_MODEL_CONFIG_DIR": "configs",
    "_index": "configs",
    "checkpoint_total_size": "configs",
    "load_model_config": "configs",
    "shipped_config": "configs",
    "default_max_num_batched_tokens": "memory",
    "kv_bytes_per_token": "memory",
    "weight_bytes": "memory",
    "ModelSpec": "model",
    "VisionSpec": "model",
    "parse_model_config": "model",
    "tp_problem": "model",
    "plan": "plans",
    "plan_preset": "plans",
    "QuantSpec": "quant",
    "PlanRequest": "request",
    "PlanResult": "verdict",
    "Verdict": "verdict",
}

__all__ = [
    "PlanError",
    "BLOCK_SIZE",
    "DTYPE_BYTES",
    "GIB",
    "KV_DTYPE_BYTES",
    "ModelSpec",
    "PlanRequest",
    "PlanResult",
    "QuantSpec",
    "Verdict",
    "VisionSpec",
    "_MODEL_CONFIG_DIR",
    "_index",
    "checkpoint_total_size",
    "default_max_num_batched_tokens",
    "kv_bytes_per_token",
    "load_model_config",
    "parse_model_config",
    "plan",
    "plan_preset",
    "shipped_config",
    "tp_problem",
    "weight_bytes",
]


def __getattr__(name: str) -> Any:
    """A lazy name (``__lazy__``) or a submodule, imported on first use."""
    if name in __lazy__:
        value = getattr(importlib.import_module(f"{__name__}.{__lazy__[name]}"), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted({*globals(), *__lazy__})
