"""``plan``'s vLLM and checkpoint flags: --vllm-version, --serving-image (tag -> version), --enforce-eager,
--total-size; the unverified mark printed and in --json."""

from __future__ import annotations

import json

from tests.cli_support import invoke

QWEN3_235B = "tests/data/configs/qwen3-235b-a22b-instruct-2507-fp8.json"
SCOUT = "tests/data/configs/llama-4-scout-17b-16e-instruct.json"
GOOGLE_IMAGE = "us-docker.pkg.dev/vertex-ai/vertex-vision-model-garden-dockers/pytorch-vllm-serve"


def _json(*args: str) -> dict:
    result = invoke(None, "plan", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.output[result.output.index("{"):])


def test_vllm_version_and_serving_image_pick_the_engine():
    """The issue's case: Qwen2.5-72B on 2 x H100 with 1024 sequences plans as 0 KV tokens under the default
    profile; vLLM 0.19 started with 19,920."""
    args = ["--model-config", "tests/data/configs/qwen2.5-72b-instruct.json", "--machine-type", "a3-highgpu-2g",
            "--gpu-memory-utilization", "0.95", "--max-num-seqs", "1024", "--max-model-len", "8192"]  # fmt: skip
    default = _json(*args)
    recent = _json(*args, "--vllm-version", "0.19.0")
    assert default["vllm_profile"] == "v1-early" and recent["vllm_profile"] == "v1"
    assert abs(recent["kv_cache_tokens"] - 19920) / 19920 < 0.15 and recent["kv_cache_tokens"] > default["kv_cache_tokens"]
    image = _json(*args, "--serving-image", "vllm/vllm-openai:v0.19.0")
    assert image["vllm_version"] == "0.19.0" and image["kv_cache_tokens"] == recent["kv_cache_tokens"]
    google = _json(*args, "--serving-image", f"{GOOGLE_IMAGE}:20250304_0916_RC01")
    assert google["vllm_version"] == "0.7.2" and google["vllm_profile"] == "v0"


def test_enforce_eager_and_total_size_flags():
    args = ["--model-config", "meta-llama/Meta-Llama-3.1-8B-Instruct", "--machine-type", "g2-standard-12"]
    assert _json(*args)["cuda_graph_gib"] > 0 and _json(*args, "--enforce-eager")["cuda_graph_gib"] == 0
    assert _json(*args, "--enforce-eager")["enforce_eager"] is True
    exact = _json(*args, "--total-size", str(10 * 1024**3))
    assert 10.0 < exact["weights_gib_per_gpu"] < 10.1 and exact["total_size"] == 10 * 1024**3
    shipped = _json("--model-config", "meta-llama/Meta-Llama-3.1-8B-Instruct", "--machine-type", "g2-standard-12")
    assert shipped["total_size"]  # the shipped index's safetensors total_size, not arithmetic


def test_unverified_is_printed_and_in_json():
    # Scout Instruct's 10,485,760 positions: not a length to plan at, and a 2.5 GiB RoPE cache on every rank.
    # Llama 4 is calibrated on vLLM >= 0.8 (two logs); on V0, which never ran it, it stays unverified.
    args = ("--model-config", SCOUT, "--machine-type", "a3-highgpu-8g", "--max-model-len", "8192", "--vllm-version", "0.7.3")
    result = invoke(None, "plan", *args)
    assert result.exit_code == 0, result.output
    assert "unverified: model family moe:llama4_text" in result.output and "weights per GPU: 27.79 GiB" in result.output
    data = _json(*args)
    assert data["unverified"] is True and data["family"] == "moe:llama4_text" and data["blocking"] is False
    moe = _json("--model-config", QWEN3_235B, "--machine-type", "a3-highgpu-8g")  # calibrated since vLLM #21348
    assert moe["family"] == "moe:qwen3_moe" and moe["unverified"] is False and moe["weights_gib_per_gpu"] == 27.582
    calibrated = _json("--preset", "llama-3.1-8b-instruct")
    assert calibrated["unverified"] is False and calibrated["unverified_reasons"] == []


def test_bad_vllm_flags_are_refused_with_the_fix():
    both = invoke(None, "plan", "--preset", "llama-3.1-8b", "--vllm-version", "0.19.0", "--serving-image", "a:b")
    assert both.exit_code == 2 and "not both" in both.output
    bad = invoke(None, "plan", "--preset", "llama-3.1-8b", "--vllm-version", "latest")
    assert bad.exit_code == 2 and "is not a vLLM version" in bad.output and "Traceback" not in bad.output
    unknown = invoke(None, "plan", "--preset", "llama-3.1-8b", "--serving-image", f"{GOOGLE_IMAGE}:custom")
    assert unknown.exit_code == 0 and "is not known; planned with the default image's" in unknown.output
