"""The verdict and its messages: what vLLM would do at start-up, in vLLM's words, with the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from vllm_vertex.planner import memory
from vllm_vertex.planner._base import BLOCK_SIZE
from vllm_vertex.planner.memory import Budget
from vllm_vertex.planner.model import ModelSpec, tp_problem
from vllm_vertex.planner.request import PlanRequest, gpu_memory_gib, kv_dtype_bytes

__all__ = ["RULE_VERDICTS", "PlanResult", "Verdict", "choose", "warnings_for"]


class Verdict(StrEnum):
    """What vLLM would do at start-up with this configuration."""

    OK = "ok"
    AT_RISK = "at_risk"
    WEIGHTS_DO_NOT_FIT = "weights_do_not_fit"
    KV_CACHE_TOO_SMALL = "kv_cache_too_small"
    MULTIMODAL_PROFILE_RISK = "multimodal_profile_risk"
    TP_DOES_NOT_DIVIDE_HEADS = "tp_does_not_divide_heads"


# Verdicts that restate a rule vLLM enforces at start-up (not an estimate): they block even when unverified.
RULE_VERDICTS = frozenset({Verdict.TP_DOES_NOT_DIVIDE_HEADS})


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
        kv_cache_tokens_low: Low end of the error band on ``kv_cache_tokens``.
        kv_cache_tokens_high: High end of it.
        max_model_len_with_margin: Largest max_model_len that fits at the band's low end.
        family: The planner's model family (``dense``, ``mllama``, ``moe:qwen3_moe``, ...).
        vllm_profile: The engine profile the estimate used (``v0``, ``v1-early``, ``v1``).
        unverified_reasons: Why the estimate lies outside the planner's calibration (empty: calibrated).
            An unverified "does not fit" is a warning, never a refusal (unless ``block_on_plan_risk``).
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
    kv_cache_tokens_low: int = 0
    kv_cache_tokens_high: int = 0
    max_model_len_with_margin: int = 0
    family: str = ""
    vllm_profile: str = ""
    unverified_reasons: tuple[str, ...] = ()

    @property
    def unverified(self) -> bool:
        """The estimate comes from a family, vLLM generation or path outside calibration."""
        return bool(self.unverified_reasons)

    @property
    def blocking(self) -> bool:
        """A "does not fit" the planner vouches for: vLLM's own rule (TP divisibility) or a calibrated estimate."""
        if self.fits:
            return False
        return self.verdict in RULE_VERDICTS or not self.unverified

    @property
    def fits(self) -> bool:
        """True when vLLM is predicted to start and serve ``max_model_len`` tokens (``ok`` or ``at_risk``)."""
        return self.verdict in (Verdict.OK, Verdict.AT_RISK)

    @property
    def at_risk(self) -> bool:
        """Predicted to fit, but ``max_model_len`` lies within the model's error band of the KV cache."""
        return self.verdict is Verdict.AT_RISK

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-ready dict: verdict, fits, figures and the inputs."""
        out: dict[str, Any] = {
            "verdict": self.verdict.value,
            "fits": self.fits,
            "at_risk": self.at_risk,
            "unverified": self.unverified,
            "blocking": self.blocking,
        }
        for key, value in asdict(self).items():
            if key == "request":
                out.update(value)
            elif key != "verdict":
                out[key] = round(value, 3) if isinstance(value, float) else value
        out["warnings"] = list(self.warnings)
        out["unverified_reasons"] = list(self.unverified_reasons)
        return out


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
    assert req.max_model_len is not None  # resolve() filled it
    figures = memory.budget(spec, req, gpu_memory_gib(req))
    hybrid = memory.hybrid_for(req)
    latent = memory.mla_latent_cached(req.vllm_version)
    kv = memory.kv_bytes_per_token(spec, req.accelerator_count, kv_dtype_bytes(req), hybrid, latent)
    need = memory.kv_tokens_needed(spec, req.max_model_len, req.max_num_batched_tokens or 0, hybrid)
    return figures.weights <= figures.usable and memory.kv_tokens(figures.available, kv) >= need


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


def choose(
    spec: ModelSpec, req: PlanRequest, budget: Budget, kv_tokens: int, kv_low: int = 0
) -> tuple[Verdict, str, int | None]:
    """Chooses the verdict, its message and (for the multimodal risk) the max_num_seqs that works.

    ``kv_low`` is the low end of the model's error band: a ``max_model_len`` above it (but within
    the predicted cache) is ``at_risk``, with the largest ``max_model_len`` that fits with margin.
    """
    assert req.max_model_len is not None  # resolve() filled it
    hybrid = memory.hybrid_for(req)
    batched = req.max_num_batched_tokens or 0
    need = memory.kv_tokens_needed(spec, req.max_model_len, batched, hybrid)
    longest = memory.max_len_for_tokens(spec, kv_tokens, batched, hybrid)
    fit = min(longest, spec.context_limit) // BLOCK_SIZE * BLOCK_SIZE
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
    if kv_tokens >= need and kv_low >= need:
        return Verdict.OK, f"Fits: KV cache of {kv_tokens} tokens holds max_model_len {req.max_model_len}.", None
    if kv_tokens >= need:
        margin = _with_margin(spec, memory.max_len_for_tokens(spec, kv_low, batched, hybrid))
        fix = f"set max_model_len to {margin} or less" if margin else "use more or larger GPUs"
        return (
            Verdict.AT_RISK,
            (
                f"At risk: the predicted KV cache ({kv_tokens} tokens) holds max_model_len {req.max_model_len}, "
                f"but within the planner's error band (as low as {kv_low} tokens), so vLLM may refuse to start. "
                f"Fix: {fix}, raise gpu_memory_utilization, or use more or larger GPUs."
            ),
            None,
        )
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
    message = _kv_message(req.max_model_len, kv_tokens, fit)
    groups = memory.qwen_vl_profile_groups(spec, req.max_model_len)
    if groups > 1 and budget.vision_act > budget.text_act and memory.engine_profile(req.vllm_version).v1:
        message += (
            f" vLLM profiles Qwen-VL with one dummy video of {2 * groups} frames at max_pixels "
            f"(~{budget.vision_act:.1f} GiB of encoder activations): a smaller max_model_len shrinks it, or "
            "serve without video (--limit-mm-per-prompt '{\"video\": 0}') or with a smaller max_pixels."
        )
    return Verdict.KV_CACHE_TOO_SMALL, message, None


def _with_margin(spec: ModelSpec, kv_low: int) -> int:
    """Largest max_model_len that fits with margin: the band's low end, a power of two when that is >= 1024."""
    fit = min(kv_low, spec.context_limit) // BLOCK_SIZE * BLOCK_SIZE
    return 1 << (fit.bit_length() - 1) if fit >= 1024 else fit


def warnings_for(spec: ModelSpec, req: PlanRequest, budget: Budget) -> tuple[str, ...]:
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
