"""The planner's entry points: :func:`plan` (a model config on the requested hardware) and :func:`plan_preset`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from vllm_vertex import recipes
from vllm_vertex.errors import PlanError
from vllm_vertex.planner import memory
from vllm_vertex.planner._base import BLOCK_SIZE
from vllm_vertex.planner.configs import checkpoint_total_size, load_model_config
from vllm_vertex.planner.coverage import family_of, unverified_reasons
from vllm_vertex.planner.model import parse_model_config
from vllm_vertex.planner.request import PlanRequest, gpu_memory_gib, kv_dtype_bytes, resolve
from vllm_vertex.planner.verdict import RULE_VERDICTS, PlanResult, Verdict, choose, warnings_for

__all__ = ["plan", "plan_preset"]


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
    req = resolve(spec, req)
    spec = replace(spec, context_tokens=memory.context_limit(spec, req.vllm_version))  # vLLM's own cap
    assert req.max_model_len is not None  # resolve() filled it
    budget = memory.budget(spec, req, gpu_memory_gib(req))
    engine = memory.engine_profile(req.vllm_version).name
    hybrid = memory.hybrid_for(req)
    latent = memory.mla_latent_cached(req.vllm_version)
    kv_per_token = memory.kv_bytes_per_token(spec, req.accelerator_count, kv_dtype_bytes(req), hybrid, latent)
    kv_tokens = memory.kv_tokens(budget.available, kv_per_token)
    band = memory.kv_band_gib(budget)
    kv_low = memory.kv_tokens(budget.available - band, kv_per_token)
    kv_high = memory.kv_tokens(budget.available + band, kv_per_token)
    verdict, message, seqs = choose(spec, req, budget, kv_tokens, kv_low)
    image_tokens = memory.image_tokens(spec)
    unverified = unverified_reasons(spec, req, engine)
    if unverified:
        message += " Unverified (outside the planner's calibration): " + "; ".join(unverified) + "."
        if verdict not in RULE_VERDICTS and verdict not in (Verdict.OK, Verdict.AT_RISK):
            message += " Preflight and submit only warn on it (block_on_plan_risk=true makes them refuse)."
    longest = memory.max_len_for_tokens(spec, kv_tokens, req.max_num_batched_tokens or 0, hybrid)
    longest_low = memory.max_len_for_tokens(spec, kv_low, req.max_num_batched_tokens or 0, hybrid)
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
        max_model_len_that_fits=min(longest, spec.context_limit) // BLOCK_SIZE * BLOCK_SIZE,
        max_concurrency=kv_tokens / (req.max_model_len + image_tokens),
        image_kv_tokens_per_request=image_tokens,
        recommended_max_num_seqs=seqs,
        warnings=warnings_for(spec, req, budget),
        kv_cache_tokens_low=kv_low,
        kv_cache_tokens_high=kv_high,
        max_model_len_with_margin=min(longest_low, spec.context_limit) // BLOCK_SIZE * BLOCK_SIZE,
        family=family_of(spec),
        vllm_profile=engine,
        unverified_reasons=unverified,
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
        vllm_version=recipes.vllm_version_of(recipe.serving_image),
    )
    return plan(load_model_config(recipe.model_id), request, **overrides)
