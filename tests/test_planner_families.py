"""The model families vLLM sizes its own way: MoE (expert / dense / shared widths, which layers are
sparse), DeepSeek's MLA cache, gpt-oss (mxfp4, sliding window, sinks), interleaved sliding-window KV
groups per vLLM generation, and the vision towers without ``image_size`` (Qwen-VL) or with a
budgeted profiling run (Pixtral)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from vllm_vertex import planner
from vllm_vertex.planner import GIB, Verdict, plan
from vllm_vertex.planner.coverage import family_of
from vllm_vertex.planner.memory import kv_groups
from vllm_vertex.planner.quant import QuantSpec

DATA = Path(__file__).parent / "data" / "configs"
H100 = dict(accelerator_type="NVIDIA_H100_80GB")


def _config(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def test_qwen3_moe_experts_use_moe_intermediate_size():
    """The issue's case: 212.64 GiB per GPU before (intermediate_size 12,288 per expert); vLLM logged 27.72."""
    result = plan(_config("qwen3-235b-a22b-instruct-2507-fp8.json"), accelerator_count=8, max_model_len=8192,
                  vllm_version="0.19.0", **H100)  # fmt: skip
    assert abs(result.weights_gib_per_gpu - 27.72) / 27.72 < 0.02
    assert result.fits
    spec = planner.parse_model_config(_config("qwen3-235b-a22b-instruct-2507-fp8.json"))
    assert spec.intermediate_size == 1536 and spec.num_experts == 128 and len(spec.moe_layers) == 94


@pytest.mark.parametrize(
    ("fields", "sparse"),
    [
        ({"decoder_sparse_step": 2}, [1, 3, 5, 7]),  # Qwen2/3-MoE: (i + 1) % step == 0
        ({"mlp_only_layers": [0, 4]}, [1, 2, 3, 5, 6, 7]),
        ({"first_k_dense_replace": 3}, [3, 4, 5, 6, 7]),  # DeepSeek: dense first k layers
        ({"first_k_dense_replace": 1, "moe_layer_freq": 2}, [2, 4, 6]),
        ({"interleave_moe_layer_step": 2}, [1, 3, 5, 7]),  # Llama 4 Maverick
    ],
)
def test_sparse_layers_as_vllm_picks_them(fields, sparse):
    config = {**_config("qwen1.5-moe-a2.7b.json"), "num_hidden_layers": 8, **fields}
    spec = planner.parse_model_config(config)
    assert list(spec.moe_layers) == sparse
    dense = planner.weight_bytes(planner.parse_model_config({**config, "num_experts": 1}), 2)
    assert planner.weight_bytes(spec, 2) > dense  # sparse layers hold 60 experts + the shared one


def test_qwen2_moe_shared_expert_and_deepseek_shared_experts():
    qwen = planner.parse_model_config(_config("qwen1.5-moe-a2.7b.json"))
    assert (qwen.intermediate_size, qwen.shared_expert_intermediate_size, qwen.shared_expert_gate) == (1408, 5632, True)
    assert 14.2e9 < planner.weight_bytes(qwen, 2) / 2 < 14.4e9  # Qwen1.5-MoE-A2.7B: 14.3B parameters
    ds = planner.parse_model_config(_config("deepseek-v2-lite-chat.json"))
    assert ds.shared_expert_intermediate_size == 2 * 1408 and ds.dense_intermediate_size == 10944
    assert ds.moe_layers[0] == 1 and len(ds.moe_layers) == 26
    assert 15.5e9 < planner.weight_bytes(ds, 2) / 2 < 15.9e9  # DeepSeek-V2-Lite: 15.7B parameters


def test_mla_caches_one_latent_per_token_per_layer_on_every_rank():
    config = _config("deepseek-v2-lite-chat.json")
    one = plan(config, max_model_len=8192, vllm_version="0.19.0", **H100)
    assert one.kv_bytes_per_token_per_gpu == 27 * (512 + 64) * 2  # not 2 x heads x head_dim
    two = plan(config, accelerator_count=2, max_model_len=8192, vllm_version="0.19.0", **H100)
    assert two.kv_bytes_per_token_per_gpu == one.kv_bytes_per_token_per_gpu  # replicated, not split by TP
    # vLLM #15871 (DeepSeek-V2-Lite-Chat, V1 0.8.3.dev, two GPUs): "To serve at least one request with the
    # models's max seq len (32768), (0.95 GiB KV cache is needed".
    assert round(32768 * two.kv_bytes_per_token_per_gpu / GIB, 2) == 0.95


@pytest.mark.parametrize(
    ("version", "latent"),
    [("0.5.0.post1", False), ("v0.6.6", False), ("0.7.0", False), ("0.7.1", True), ("0.7.x", True),
     ("0.8.5", True), ("0.19.0", True), ("v0", True)],
)  # fmt: skip
def test_deepseek_before_vllm_071_caches_full_heads_padded_to_256(version, latent):
    """Before MLA support vLLM cached K and V of every head, padded to 256 (``get_head_size``)."""
    assert planner.memory.mla_latent_cached(version) is latent
    config = _config("deepseek-v2-lite-chat.json")
    for tp in (1, 2):
        result = plan(config, gpu_memory_gib=79.15, accelerator_count=tp, max_model_len=8192, vllm_version=version)
        full = 2 * 27 * (16 // tp) * 256 * 2
        assert result.kv_bytes_per_token_per_gpu == (27 * 576 * 2 if latent else full)


def test_deepseek_v3_plans_the_61_layers_vllm_loads_not_the_mtp_layer():
    """DeepSeek-V3/R1 (``deepseek_v3``; Kimi-K2 shares it): vLLM builds ``num_hidden_layers`` (61) decoder layers
    and skips the checkpoint's MTP layer (``model.layers.61``, ``num_nextn_predict_layers``) unless speculative
    decoding loads it as a draft model; the first 3 layers are dense; FP8 block-quantised linears."""
    config = _config("deepseek-r1.json")
    spec = planner.parse_model_config(config)
    assert spec.num_layers == 61 and spec.moe_layers == tuple(range(3, 61))
    assert (spec.num_experts, spec.intermediate_size, spec.shared_expert_intermediate_size) == (256, 2048, 2048)
    assert spec.dense_intermediate_size == 18432 and spec.quant.method == "fp8"
    # DeepSeek's README_WEIGHTS.md: main model 671B parameters, the MTP module 11.5B more.
    assert 670.5e9 < planner.weight_bytes(replace(spec, quant=QuantSpec()), 2) / 2 < 671.5e9
    with_mtp = planner.parse_model_config({**config, "num_hidden_layers": 62})
    assert 11e9 < (planner.weight_bytes(with_mtp, 2) - planner.weight_bytes(spec, 2)) < 12e9
    result = plan(config, gpu_memory_gib=139.81, accelerator_count=8, max_model_len=32768, vllm_version="0.19.0")
    assert result.family == "mla:deepseek_v3" and result.unverified  # its one KV log is vLLM 0.11 (v1-early)
    assert result.kv_bytes_per_token_per_gpu == 61 * (512 + 64) * 2  # one latent per layer, every rank
    # FP8 experts + bf16 embeddings over 8 ranks, plus what vLLM keeps whole on each: the fused q_a/kv_a
    # projections (FP8) of 61 layers and the bf16 routers of 58 (``replicated_bytes``), 7/8 of 1.06 GiB.
    whole = 61 * 7168 * (1536 + 576) * 1 + 58 * 7168 * 256 * 2
    assert planner.memory.replicated_bytes(spec, 2) == whole
    sharded = plan(config, gpu_memory_gib=139.81, accelerator_count=1, max_model_len=32768, vllm_version="0.19.0")
    assert result.weights_gib_per_gpu * GIB == pytest.approx(
        (sharded.weights_gib_per_gpu * GIB - whole) / 8 + whole, rel=1e-3
    )
    assert 79.0 < result.weights_gib_per_gpu < 79.6


def test_a_total_size_that_counts_the_mtp_layer_loads_without_it():
    """The Hub's ``total_size`` of DeepSeek-V3/R1 includes the MTP module (14B of the 685B parameters: one MoE
    layer, ``eh_proj``, norms, its own embedding and head), which vLLM does not load: taken out, a checkpoint size
    gives the same weights per GPU as counting the 61 layers."""
    config = _config("deepseek-r1.json")
    spec = planner.parse_model_config(config)
    assert spec.mtp_layers == 1
    mtp = planner.memory.mtp_bytes(spec)
    moe_layer = planner.weight_bytes(planner.parse_model_config({**config, "num_hidden_layers": 62}), 2)
    moe_layer -= planner.weight_bytes(spec, 2)
    assert mtp == moe_layer + (2 * 7168 * 7168 + 3 * 7168 + 2 * 129280 * 7168) * 2  # + eh_proj, norms, embed, head
    kw = dict(gpu_memory_gib=139.81, accelerator_count=8, max_model_len=8192, vllm_version="0.11.2")
    counted = plan(config, **kw)
    sized = plan(config, total_size=planner.weight_bytes(spec, 2) + mtp, **kw)
    assert sized.weights_gib_per_gpu == pytest.approx(counted.weights_gib_per_gpu, abs=1e-6)
    assert sized.kv_cache_tokens == counted.kv_cache_tokens
    no_mtp = {k: v for k, v in config.items() if k != "num_nextn_predict_layers"}
    assert planner.parse_model_config(no_mtp).mtp_layers == 0
    assert plan(no_mtp, total_size=planner.weight_bytes(spec, 2) + mtp, **kw).weights_gib_per_gpu > (
        counted.weights_gib_per_gpu + mtp / 8 / GIB - 0.01
    )


def test_gpt_oss_is_planned_not_refused():
    for name, params in (("openai-gpt-oss-20b.json", 20.9e9), ("openai-gpt-oss-120b.json", 116.8e9)):
        spec = planner.parse_model_config(_config(name))
        assert spec.quant.method == "mxfp4" and spec.expert_bias and spec.sliding_window_layers == spec.num_layers // 2
        assert abs(_param_count(spec) - params) / params < 0.01
    big = planner.weight_bytes(planner.parse_model_config(_config("openai-gpt-oss-120b.json")), 2)
    assert abs(big / GIB - 60.77) < 0.1  # the checkpoint (65.25 GB) ...
    one = plan(_config("openai-gpt-oss-120b.json"), max_model_len=8192, **H100)
    assert abs(one.weights_gib_per_gpu - 64.38) < 0.5  # ... as vLLM holds it on one H100 (vLLM #33155)
    four = plan(_config("openai-gpt-oss-20b.json"), accelerator_count=4, max_model_len=8192, **H100)
    assert abs(four.weights_gib_per_gpu - 3.63) / 3.63 < 0.04  # 720 expert rows per rank padded to 768
    assert plan(_config("openai-gpt-oss-120b.json"), machine_type="a3-highgpu-2g", accelerator_count=2,
                max_model_len=32768).fits  # fmt: skip


def _param_count(spec) -> float:
    """Parameters (every weight counted at 2 bytes, quantisation ignored)."""
    return planner.weight_bytes(replace(spec, quant=QuantSpec()), 2) / 2


@pytest.mark.parametrize(
    ("name", "v0_layers", "hybrid_layers"),
    [
        ("gemma-3-27b-it.json", 62, 70),  # 10 full + 52 sliding: groups of 10, the last sliding one padded
        ("gemma-3-12b-it.json", 48, 48),  # 8 + 40: 6 groups of 8
        ("gemma-2-9b.json", 42, 42),  # 1:1
        ("openai-gpt-oss-20b.json", 24, 24),
        ("llama-4-scout-17b-16e-instruct.json", 48, 48),  # 36 chunked-local + 12 global
    ],
)
def test_sliding_window_layers_as_each_vllm_generation_counts_them(name, v0_layers, hybrid_layers):
    spec = planner.parse_model_config(_config(name))
    size, full, local = kv_groups(spec, hybrid=True)
    assert size * (full + local) == hybrid_layers
    assert kv_groups(spec, hybrid=False) == (v0_layers, 1, 0)
    per_layer = plan(_config(name), max_model_len=4096, vllm_version="0.6.4", gpu_memory_gib=1000.0)
    recent = plan(_config(name), max_model_len=4096, vllm_version="0.19.0", gpu_memory_gib=1000.0)
    assert recent.kv_bytes_per_token_per_gpu * v0_layers == per_layer.kv_bytes_per_token_per_gpu * hybrid_layers


def test_sliding_window_layers_need_only_their_window_to_admit_a_long_context():
    """Gemma 3 27B on one H100: the reported cache (~37K tokens) is below 65,536, yet vLLM admits it,
    because only the 10 full-attention layers need the whole length."""
    result = plan(_config("gemma-3-27b-it.json"), max_model_len=65536, gpu_memory_utilization=0.95,
                  max_num_seqs=1024, vllm_version="0.19.0", **H100)  # fmt: skip
    assert result.kv_cache_tokens < 65536 and result.fits
    assert result.max_model_len_that_fits > 65536
    old = plan(_config("gemma-3-27b-it.json"), max_model_len=65536, gpu_memory_utilization=0.95,
               max_num_seqs=1024, vllm_version="0.9.2", **H100)  # fmt: skip
    assert old.verdict is Verdict.KV_CACHE_TOO_SMALL  # before the hybrid manager every layer keeps the length


@pytest.mark.parametrize(
    ("version", "limit"),
    [("0.5.1", 4096), ("0.6.4.post1", 4096), ("0.6.5", 8192), ("0.6.x", 8192), ("0.19.0", 8192)],
)
def test_gemma2_context_is_its_sliding_window_on_vllm_before_0_6_5(version, limit):
    """vLLM 0.5.1-0.6.4 caps Gemma 2's max_model_len at the 4,096-token window (PR #5908), 0.6.5 lifts
    it (PR #10584); an unstated patch level keeps the model's 8,192."""
    gemma2 = dict(dtype="bfloat16", gpu_memory_gib=79.19, vllm_version=version)
    result = plan(_config("gemma-2-9b.json"), **gemma2)
    assert result.request.max_model_len == limit  # vLLM's default max_model_len
    assert result.max_model_len_that_fits == limit  # the cache holds more; the cap is vLLM's
    if limit < 8192:
        with pytest.raises(planner.PlanError, match=r"1\.\.4096 \(vLLM .* caps Gemma 2 at its sliding window"):
            plan(_config("gemma-2-9b.json"), max_model_len=8192, **gemma2)
    else:
        assert plan(_config("gemma-2-9b.json"), max_model_len=8192, **gemma2).fits


def test_qwen25_vl_has_no_image_size_and_is_planned():
    """Was refused: "config field vision_config.image_size is missing"."""
    config = _config("qwen2.5-vl-7b-instruct.json")
    spec = planner.parse_model_config(config)
    assert spec.vision.kind == "qwen_vl" and spec.vision.tokens_per_image == 16384  # max_pixels 12,845,056
    assert 8.2e9 < planner.weight_bytes(spec, 2) / 2 < 8.35e9  # Qwen2.5-VL-7B: 8.29B parameters
    result = plan(config, machine_type="g2-standard-12", max_model_len=8192)
    assert result.fits and result.vision_activation_gib < 3
    smaller = plan({**config, "vision_config": {**config["vision_config"], "max_pixels": 1003520}},
                   machine_type="g2-standard-12", max_model_len=8192)  # fmt: skip
    assert smaller.vision_activation_gib < result.vision_activation_gib


def test_qwen_vl_profiles_one_video_of_up_to_14_frames_on_v1():
    """vLLM V1 profiles Qwen2/2.5-VL with one dummy video (qwen2_vl.py `_MAX_FRAMES_PER_VIDEO` = 14 frames of
    the largest image, as many as fit max_model_len), not an image. A public vLLM 0.23.0 log (Qwen2.5-VL-7B on
    one A100-SXM4-80GB, gmu 0.22, max_model_len 128,000) says "profiled with 1 video items of the maximum
    feature size" with a 114,688-token budget, "Model loading took 15.67 GiB", "Estimated CUDA graph memory:
    0.53 GiB" and "Available KV cache memory: -14.28 GiB"."""
    config = _config("qwen2.5-vl-7b-instruct.json")
    spec = planner.parse_model_config(config)
    assert planner.memory.qwen_vl_profile_groups(spec, 128000) * spec.vision.tokens_per_image == 114688
    assert planner.memory.qwen_vl_profile_groups(spec, 16384) == 1  # one frame pair: the same as an image
    assert planner.memory.qwen_vl_profile_groups(spec, 10**6) == 7  # capped at 14 frames
    result = plan(config, accelerator_type="NVIDIA_A100_80GB", gpu_memory_utilization=0.22, max_model_len=128000,
                  vllm_version="0.23.0")  # fmt: skip
    logged_available = -14.28
    predicted = result.usable_gib - result.weights_gib_per_gpu - result.activation_gib - result.non_torch_gib - 0.53
    assert abs(predicted - logged_available) < 1.5, predicted
    assert result.verdict is Verdict.KV_CACHE_TOO_SMALL and not result.fits
    assert "one dummy video of 14 frames" in result.message and '"video": 0' in result.message
    # V0 profiled images: the video term is V1's only.
    v0 = plan(config, accelerator_type="NVIDIA_A100_80GB", max_model_len=32768, vllm_version="0.7.3")
    assert v0.vision_activation_gib < 3


@pytest.mark.parametrize(
    ("gpu_memory_gib", "tp", "logged_weights"),
    [(44.99, 1, 19.9073), (22.09, 2, 10.0714)],
    ids=["l20-vllm-10569", "2xa10-vllm-10034"],
)
def test_mllama_profiling_oom_logs_are_a_profile_risk(gpu_memory_gib, tp, logged_weights):
    """vLLM #10569 (one 48 GB L20, vLLM 0.6.3) and #10034 (two A10, TP 2): Llama 3.2 11B Vision loaded
    ("Loading model weights took 19.9073 GB" / "10.0714 GB") and ran out of memory profiling the default 256
    dummy images. The planner says so, with a max_num_seqs that works."""
    config = planner.load_model_config("llama-3.2-11b-vision")
    result = plan(config, gpu_memory_gib=gpu_memory_gib, accelerator_count=tp, max_model_len=8192,
                  max_num_seqs=256, vllm_version="0.6.3")  # fmt: skip
    assert result.verdict is Verdict.MULTIMODAL_PROFILE_RISK and not result.unverified
    assert 0 < result.recommended_max_num_seqs < 256
    assert abs(result.weights_gib_per_gpu - logged_weights) / logged_weights < 0.02


@pytest.mark.parametrize("version", ["0.11.0", "0.19.0", "v1"])
def test_mllama_on_vllm_after_0_10_is_refused(version):
    """vLLM serves MllamaForConditionalGeneration up to 0.10.2 only: the model was V0-only
    (``SupportsV0Only``) and vLLM 0.11 refuses it at start-up (``_PREVIOUSLY_SUPPORTED_MODELS``), so a plan
    on a later vLLM is bad input, not an estimate."""
    config = planner.load_model_config("llama-3.2-11b-vision")
    with pytest.raises(planner.PlanError, match=r"does not serve Llama 3.2 Vision.*0\.10\.2"):
        plan(config, max_model_len=8192, max_num_seqs=16, enforce_eager=True, vllm_version=version, **H100)


@pytest.mark.parametrize("version", ["0.6.6", "0.10.2", "v1-early"])
def test_mllama_up_to_vllm_0_10_still_plans(version):
    """0.10.2 is the last release with Mllama; a profile name that spans 0.11 (v1-early: 0.8-0.16) cannot
    tell, so it plans (unverified on v1-early) instead of refusing."""
    config = planner.load_model_config("llama-3.2-11b-vision")
    result = plan(config, max_model_len=8192, max_num_seqs=16, enforce_eager=True, vllm_version=version, **H100)
    assert result.family == "mllama" and result.kv_cache_tokens > 0
    assert bool(result.unverified) is (version != "0.6.6")


def test_qwen25_vl_72b_shipped_config_counts_its_published_parameters():
    """The shipped 72B config (vision MLP 3456 wide, merger into 8192) sizes to the Hub's 73.4B parameters."""
    from vllm_vertex.planner.configs import shipped_config

    config = shipped_config("Qwen/Qwen2.5-VL-72B-Instruct")
    assert config is not None and config["vision_config"]["out_hidden_size"] == 8192
    assert 73.3e9 < planner.weight_bytes(planner.parse_model_config(config), 2) / 2 < 73.6e9


def test_pixtral_profiles_a_budget_of_images_not_one_per_sequence():
    """The issue's case: Mistral-Small 24B on one H100 planned 0 KV tokens (one 1,540-pixel image per
    sequence); vLLM started with ~184,800 tokens."""
    config = _config("mistral-small-3.1-24b-instruct-2503.json")
    result = plan(config, gpu_memory_utilization=0.95, max_model_len=8192, max_num_seqs=1024, vllm_version="0.19.0",
                  gpu_memory_gib=79.19)  # fmt: skip
    assert abs(result.kv_cache_tokens - 184752) / 184752 < 0.05
    assert result.vision_activation_gib < result.text_activation_gib < 2.5
    assert plan(config, max_model_len=8192, max_num_seqs=256, **H100).verdict is Verdict.OK



def test_pixtral_without_a_patch_merger_is_outside_the_calibrated_pixtral_family():
    """Pixtral-12B's HF form (llava + a pixtral tower) has no spatial merge: each patch is a language-model
    token, a profile the Mistral 3 rows (merge 2 x 2) do not check, so its verdict only warns."""
    mistral3 = _config("mistral-small-3.1-24b-instruct-2503.json")
    llava = {k: v for k, v in mistral3.items() if k != "spatial_merge_size"} | {"model_type": "llava"}
    merged, unmerged = planner.parse_model_config(mistral3), planner.parse_model_config(llava)
    assert (merged.vision.merge, unmerged.vision.merge) == (4, 1)
    assert (family_of(merged), family_of(unmerged)) == ("vision:pixtral", "vision:pixtral_llava")
    result = plan(llava, max_model_len=8192, max_num_seqs=256, vllm_version="0.19.0", **H100)
    assert any("vision:pixtral_llava" in reason for reason in result.unverified_reasons)
    assert not plan(mistral3, max_model_len=8192, max_num_seqs=256, vllm_version="0.19.0", **H100).unverified

# Models outside the calibration table (docs/planner.md, "Models outside the calibration table"): the
# weights per GPU each plan gives against the checkpoint's safetensors total_size or published count.
OUTSIDE = [
    # (config, GPUs, checkpoint bytes, family, unverified on vLLM 0.19)
    ("mistral-7b-instruct-v0.3.json", 1, 14_496_047_104, "dense", False),  # index metadata.total_size
    ("mistral-nemo-instruct-2407.json", 1, 24_495_564_800, "dense", False),  # index metadata.total_size
    ("mistral-7b-v0.1.json", 1, 14_483_464_192, "mistral", True),  # 7.24B (32000 rows); window 4096
    ("qwen3-vl-8b-instruct.json", 1, 2 * 8.77e9, "vision:qwen_vl", True),  # Hub: 8.77B
    ("qwen3-vl-30b-a3b-instruct.json", 2, 2 * 31.07e9, "moe:qwen3_vl_moe_text", True),  # Hub: 31.07B
    ("glm-4.5-air.json", 4, 2 * 106e9, "moe:glm4_moe", True),  # model card: 106B (vLLM skips the MTP layer)
    ("phi-3-medium-4k-instruct.json", 1, 2 * 14e9, "phi3", True),  # model card: "14B parameters"; window 2047
]


@pytest.mark.parametrize(("name", "gpus", "checkpoint", "family", "unverified"), OUTSIDE)
def test_models_outside_calibration_hold_their_checkpoint_per_gpu(name, gpus, checkpoint, family, unverified):
    spec = planner.parse_model_config(_config(name))
    length = min(8192, spec.context_limit)
    result = plan(_config(name), accelerator_count=gpus, max_model_len=length, vllm_version="0.19.0", **H100)
    rope = spec.max_position_embeddings * spec.head_dim * 2  # vLLM's cos/sin cache, loaded with the weights
    expected = checkpoint / gpus + rope
    assert abs(result.weights_gib_per_gpu * GIB - expected) / expected < 0.01, result.weights_gib_per_gpu
    assert result.family == family and result.unverified is unverified
    assert result.fits


def test_mistral_is_llama_for_memory_unless_its_config_names_a_window():
    """vLLM builds Mistral with Llama's layers; only v0.1's sliding_window (4096, every layer) differs."""
    spec = planner.parse_model_config(_config("mistral-7b-instruct-v0.3.json"))
    llama = planner.parse_model_config({**_config("mistral-7b-instruct-v0.3.json"), "model_type": "llama"})
    assert planner.weight_bytes(spec, 2) == planner.weight_bytes(llama, 2)
    old = planner.parse_model_config(_config("mistral-7b-v0.1.json"))
    assert (old.sliding_window, old.sliding_window_layers) == (4096, 0)  # KV counted as full attention
    nemo_on_l4 = plan(_config("mistral-nemo-instruct-2407.json"), accelerator_type="NVIDIA_L4", max_model_len=8192,
                      vllm_version="0.19.0")  # fmt: skip
    assert nemo_on_l4.verdict is Verdict.WEIGHTS_DO_NOT_FIT and not nemo_on_l4.unverified  # 22.8 GiB > 22.06
    phi3 = _config("phi-3-medium-4k-instruct.json")  # vLLM's Phi3ForCausalLM subclasses LlamaForCausalLM
    assert family_of(planner.parse_model_config({**phi3, "sliding_window": None})) == "dense"
    assert family_of(planner.parse_model_config(phi3)) == "phi3"  # its 2047 window: unverified


def test_qwen3_vl_counts_its_deepstack_mergers_and_position_table():
    """vLLM's Qwen3_VisionTransformer: 16-px Conv3d patches, a 2304 x hidden position table, and one
    extra patch merger per deepstack_visual_indexes entry (vllm/model_executor/models/qwen3_vl.py)."""
    spec = planner.parse_model_config(_config("qwen3-vl-8b-instruct.json"))
    assert spec.vision is not None
    vision = spec.vision
    assert (vision.deepstack_mergers, vision.position_embeddings, vision.input_per_patch) == (3, 2304, 1536)
    assert vision.patches_per_tile == 4096 * 4096 // (16 * 16)  # its processor's longest_edge: 4096 x 4096 px
    without = replace(spec, vision=replace(spec.vision, deepstack_mergers=0, position_embeddings=0))
    merger = (4 * 1152) ** 2 + 4 * 1152 * 4096 + 2 * 4 * 1152
    assert planner.weight_bytes(spec, 2) - planner.weight_bytes(without, 2) == 2 * (3 * merger + 2304 * 1152)
    # Qwen3-VL-4B: 4.83B on the Hub, whose checkpoint also stores the lm_head vLLM ties to the embeddings
    small = planner.parse_model_config(_config("qwen3-vl-4b-instruct.json"))
    assert small.tie_word_embeddings and abs(_param_count(replace(small, tie_word_embeddings=False)) - 4.83e9) < 0.01e9


def test_internvl_reads_llm_config_instead_of_refusing():
    """InternVL (model_type internvl_chat) keeps its decoder in llm_config: the planner refused it
    ("num_attention_heads is missing"). OpenGVLab/InternVL3-1B's printed module tree gives 938,193,024
    parameters: InternViT-300M, Qwen2.5-0.5B and the mlp1 projector on 4 pixel-shuffled patches."""
    config = _config("internvl3-1b.json")
    spec = planner.parse_model_config(config)
    assert spec.model_type == "qwen2" and spec.num_layers == 24 and spec.hidden_size == 896
    assert spec.vision is not None and spec.vision.kind == "internvit"
    assert (spec.vision.tiles, spec.vision.merge) == (13, 4)  # 12 dynamic tiles + the thumbnail, 1024 -> 256
    assert abs(_param_count(spec) - 938_193_024) / 938_193_024 < 0.001
    result = plan(config, accelerator_type="NVIDIA_L4", max_model_len=8192, vllm_version="0.19.0")
    assert result.fits and result.unverified and result.family == "vision:internvit"
