"""The fitted non-KV model per vLLM generation, the error band ("at risk") and the image -> vLLM map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_vertex import planner, recipes
from vllm_vertex.planner import PlanError, Verdict, plan
from vllm_vertex.planner.memory import ENGINE_PROFILES, engine_profile

DATA = Path(__file__).parent / "data" / "configs"
QWEN_72B = json.loads((DATA / "qwen2.5-72b-instruct.json").read_text())
LLAMA_8B = planner.load_model_config("llama-3.1-8b")
H100_072 = dict(accelerator_type="NVIDIA_H100_80GB", accelerator_count=2, gpu_memory_utilization=0.95)


@pytest.mark.parametrize(
    ("version", "profile"),
    [
        ("0.6.4", "v0"),
        ("0.2.x", "v0"),
        ("v0.7.3", "v0"),
        ("0.8.5", "v1-early"),
        ("0.11.2", "v1-early"),
        ("0.16.0", "v1-early"),
        ("0.17.0", "v1"),
        ("v0.19.0", "v1"),
        ("1.0", "v1"),
        ("v1-early", "v1-early"),
    ],
)
def test_engine_profile_of_a_version(version, profile):
    assert engine_profile(version).name == profile


def test_unknown_version_is_refused():
    with pytest.raises(PlanError, match="vllm_version"):
        plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096, vllm_version="latest")


def test_image_tags_map_to_engines():
    assert recipes.vllm_version_of(recipes.DEFAULT_IMAGE) == "v1-early"
    assert recipes.vllm_version_of(recipes.LEGACY_MLLAMA_IMAGE) == "v0"
    assert recipes.vllm_version_of("vllm/vllm-openai:v0.19.0") == "0.19.0"
    assert recipes.vllm_version_of("us-docker.pkg.dev/x/y/custom:latest") == "auto"
    assert {engine_profile(v).name for v in recipes.IMAGE_ENGINES.values()} <= set(ENGINE_PROFILES)
    assert recipes.vllm_version_of("x/pytorch-vllm-serve:20250304_0916_RC01") == "0.7.2"
    assert plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096).request.vllm_version == "v1-early"


def test_held_out_72b_at_tp2_no_longer_passes_32k():
    """The issue's case: vLLM reported 19,920 KV tokens; 32,768 must not pass preflight."""
    result = plan(QWEN_72B, max_model_len=32768, max_num_seqs=1024, vllm_version="0.19.0", **H100_072)
    assert result.verdict is Verdict.KV_CACHE_TOO_SMALL and not result.fits
    assert abs(result.kv_cache_tokens - 19920) / 19920 < 0.15
    assert 1.9 < result.non_torch_gib < 2.2  # NCCL/NVLS buffers at TP 2 on H100


def test_tp_non_torch_grows_only_where_nvls_exists():
    h100 = plan(LLAMA_8B, accelerator_type="NVIDIA_H100_80GB", accelerator_count=2, vllm_version="0.19.0")
    l4 = plan(LLAMA_8B, machine_type="g2-standard-24", accelerator_count=2, max_model_len=8192, vllm_version="0.19.0")
    one = plan(LLAMA_8B, accelerator_type="NVIDIA_H100_80GB", accelerator_count=1, vllm_version="0.19.0")
    assert one.non_torch_gib == pytest.approx(0.25) and h100.non_torch_gib == pytest.approx(2.07)
    assert l4.non_torch_gib < 1.0


def test_v1_profiling_peak_is_the_sampler_not_tp_sharded():
    seqs_256 = plan(LLAMA_8B, accelerator_type="NVIDIA_H100_80GB", max_num_seqs=256, vllm_version="0.19.0")
    seqs_1024 = plan(LLAMA_8B, accelerator_type="NVIDIA_H100_80GB", max_num_seqs=1024, vllm_version="0.19.0")
    tp4 = plan(
        LLAMA_8B, accelerator_type="NVIDIA_H100_80GB", accelerator_count=4, max_num_seqs=1024, vllm_version="0.19.0"
    )
    assert seqs_1024.activation_gib == pytest.approx(1.89, abs=0.01)  # vLLM 0.19 logged 1.89 at TP 1, 2 and 4
    assert tp4.activation_gib == seqs_1024.activation_gib
    assert seqs_256.activation_gib < seqs_1024.activation_gib
    assert seqs_1024.request.max_num_batched_tokens == 8192  # H100-class default of vllm serve
    l4 = plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096, vllm_version="0.19.0")
    assert l4.request.max_num_batched_tokens == 2048


def test_near_the_edge_is_at_risk_with_a_margin():
    probe = plan(QWEN_72B, max_model_len=8192, max_num_seqs=1024, vllm_version="0.19.0", **H100_072)
    assert probe.kv_cache_tokens_low < probe.kv_cache_tokens < probe.kv_cache_tokens_high
    edge = probe.kv_cache_tokens - 16  # inside the cache, above the band's low end
    assert probe.kv_cache_tokens_low < edge
    result = plan(QWEN_72B, max_model_len=edge, max_num_seqs=1024, vllm_version="0.19.0", **H100_072)
    assert result.verdict is Verdict.AT_RISK and result.fits and result.at_risk
    margin = result.max_model_len_with_margin
    assert 0 < margin <= result.kv_cache_tokens_low
    suggested = int(result.message.split("set max_model_len to ")[1].split(" ")[0])
    assert 0 < suggested <= margin
    data = result.to_dict()
    assert data["verdict"] == "at_risk" and data["at_risk"] is True and data["fits"] is True
    assert data["kv_cache_tokens_low"] <= data["kv_cache_tokens"] <= data["kv_cache_tokens_high"]
    safe = plan(QWEN_72B, max_model_len=4096, max_num_seqs=1024, vllm_version="0.19.0", **H100_072)
    assert safe.verdict is Verdict.OK and not safe.at_risk
