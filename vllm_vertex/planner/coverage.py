"""What the planner can vouch for: the model families and vLLM generations its calibration covers. Pure.

A gate must never block what works: a "does not fit" from an estimate no published start-up log
checks is a warning, not a refusal. :func:`unverified_reasons` names every part of a plan that
lies outside calibration; an empty tuple means the estimate is calibrated (every pair in
:data:`CALIBRATED` has at least one row in ``tests/data/calibration.csv``, which
``tests/test_planner_calibration.py`` checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vllm_vertex.planner.model import LLAMA_LAYER_TYPES

if TYPE_CHECKING:
    from vllm_vertex.planner.model import ModelSpec
    from vllm_vertex.planner.request import PlanRequest

__all__ = ["CALIBRATED", "TP_CALIBRATED", "family_of", "unverified_reasons"]

# Model types vLLM sizes as a plain decoder: GQA attention on every layer, one gated MLP.
DENSE_TYPES = frozenset({"llama", "qwen2", "qwen3"})

# Model types whose vLLM layers are Llama's for memory (q/k/v and o without bias, gated SiLU MLP, two
# RMSNorms, GQA on every layer), when the config names no sliding window. Mistral: vLLM's registry maps
# MistralForCausalLM to ("llama", "LlamaForCausalLM") from v0.3 to v0.11
# (vllm/model_executor/models/registry.py), and its own mistral.py before and after has the same layers.
# Phi-3/Phi-4: vllm/model_executor/models/phi3.py is "Inference-only Phi3 model code inherit from
# Llama.py" (class Phi3ForCausalLM(LlamaForCausalLM), only the fused qkv_proj / gate_up_proj names
# differ). The one difference is ``config.sliding_window`` passed to attention (Mistral-7B v0.1: 4096,
# Phi-3-medium: 2047), which keeps such a config outside calibration. The set is LLAMA_LAYER_TYPES
# (defined in model.py, which records such a window without modelling it).

# (family, engine profile) pairs with published start-up logs the planner reproduces.
CALIBRATED: frozenset[tuple[str, str]] = frozenset(
    {
        ("dense", "v0"),
        ("dense", "v1-early"),
        ("dense", "v1"),
        ("mllama", "v0"),
        # vLLM 0.19 start-up logs on H100 (llm-d-planner's accuracy campaign), none used for fitting:
        ("moe:gpt_oss", "v1"),
        ("moe:mixtral", "v1"),
        ("moe:qwen2_moe", "v1"),
        ("moe:qwen3_moe", "v1"),
        ("mla:deepseek_v2", "v1"),
        ("vision:siglip", "v1"),
        ("vision:pixtral", "v1"),
        ("sliding_window:gemma2", "v1"),
        # A second source per family, and older generations (docs/planner.md, "The second sources"):
        ("moe:gpt_oss", "v1-early"),  # llm-d-benchmark, vLLM 0.11
        ("moe:qwen3_moe", "v1-early"),  # vLLM #21348, 0.9.x at TP 4
        ("vision:siglip", "v1-early"),  # Gemma 3 27B, vLLM 0.11 on ROCm (TaintsAndTokenizersInc)
        # Llama 4: llm-d-planner's Scout at TP 4 on 0.19 and vLLM #19407's Scout at TP 8 on 0.9 ("The fifth round"):
        ("moe:llama4_text", "v1"),
        ("moe:llama4_text", "v1-early"),
        # DeepSeek MLA: llm-d-planner's V2-Lite on 0.19 (v1), vLLM PR #4650's V2-Lite on 0.5 (v0, the pre-0.7.1
        # padded-head cache) and vllm-memory-estimator's R1-0528 at TP 8 on 0.11.2 (v1-early; DeepseekV3ForCausalLM
        # is vLLM's DeepseekV2ForCausalLM with V3's config: one MLA path), "The fifth round, DeepSeek MLA":
        ("mla:deepseek_v2", "v0"),
        ("mla:deepseek_v3", "v1-early"),
    }
)

# Engine profiles whose TP > 1 memory (NCCL / all-reduce buffers) is fitted, and on which GPUs.
TP_CALIBRATED: dict[str, frozenset[str] | None] = {
    "v0": None,  # any GPU (RTX 3090, A100, H100 points)
    "v1-early": frozenset({"NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB"}),  # 0.9.x TP 4, 0.11 TP 2
    "v1": frozenset({"NVIDIA_H100_80GB", "NVIDIA_H100_MEGA_80GB"}),
}


def family_of(spec: ModelSpec) -> str:
    """The planner's family of a model: ``dense``, ``mllama``, or the path it takes (``moe:qwen3_moe``...)."""
    if spec.cross_attention_layers:
        return "mllama"
    kind = spec.model_type or "unknown"
    if spec.mla:
        return f"mla:{kind}"
    if spec.num_experts > 1:
        return f"moe:{kind}"
    if spec.vision is not None:
        if spec.vision.kind == "pixtral" and spec.vision.merge == 1:
            # Pixtral-12B in HF form (llava + a pixtral tower): no Mistral 3 patch merger, so every patch is
            # a token; the calibrated Pixtral rows are all Mistral 3 (spatial merge 2 x 2).
            return "vision:pixtral_llava"
        return f"vision:{spec.vision.kind}"
    if spec.sliding_window_layers:
        return f"sliding_window:{kind}"
    if spec.quant.method == "mxfp4":
        return f"mxfp4:{kind}"
    llama_layers = kind in LLAMA_LAYER_TYPES and not spec.sliding_window
    return "dense" if kind in DENSE_TYPES or llama_layers else kind


def unverified_reasons(spec: ModelSpec, req: PlanRequest, engine: str) -> tuple[str, ...]:
    """Why the plan's estimate is outside calibration (empty: calibrated).

    Args:
        spec: The parsed model.
        req: The resolved request.
        engine: The engine profile name the plan used.
    """
    reasons = []
    family = family_of(spec)
    if (family, engine) not in CALIBRATED:
        where = sorted(e for f, e in CALIBRATED if f == family)
        known = f" (calibrated on {', '.join(where)} only)" if where else ""
        reasons.append(f"model family {family} on vLLM profile {engine} has no calibration point{known}")
    if engine == "v0" and (req.max_num_batched_tokens or 0) < (req.max_model_len or 0):
        # V0 profiles a chunked-prefill batch (max_model_len above 32K): no start-up log checks its peak,
        # and the two found (vLLM 0.7, docs/planner.md "The fifth round, vLLM generations") log more KV than its band.
        reasons.append(
            f"vLLM V0 with chunked prefill ({req.max_num_batched_tokens} batched tokens below max_model_len "
            f"{req.max_model_len}) has no calibration point for its profiling peak"
        )
    tp = req.accelerator_count
    if tp > 1:
        gpus = TP_CALIBRATED.get(engine, frozenset())
        if engine not in TP_CALIBRATED or (gpus is not None and req.accelerator_type not in gpus):
            reasons.append(
                f"tensor parallel {tp} on vLLM profile {engine} with {req.accelerator_type or 'this GPU'} is "
                "extrapolated (its NCCL / all-reduce memory has no calibration point)"
            )
    return tuple(reasons)
