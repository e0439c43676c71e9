"""Unit tests of the capacity planner: the seed's four failures, presets, parsing and bad input."""

from __future__ import annotations

import pytest

from vllm_vertex import planner, recipes
from vllm_vertex.planner import GIB, PlanError, PlanRequest, Verdict, plan, plan_preset
from vllm_vertex.planner.memory import engine_profile

LLAMA_8B = planner.load_model_config("llama-3.1-8b")
VISION_11B = planner.load_model_config("meta-llama/Llama-3.2-11B-Vision-Instruct")

MIXTRAL = {  # mistralai/Mixtral-8x7B-v0.1
    "architectures": ["MixtralForCausalLM"],
    "model_type": "mixtral",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "vocab_size": 32000,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "rope_theta": 1e6,
}
QWEN2_7B = {  # Qwen/Qwen2-7B
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
}
GEMMA_7B = {  # google/gemma-7b: head_dim 256 is given (hidden / heads would be 192)
    "architectures": ["GemmaForCausalLM"],
    "model_type": "gemma",
    "hidden_size": 3072,
    "intermediate_size": 24576,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "head_dim": 256,
    "vocab_size": 256000,
    "max_position_embeddings": 8192,
    "torch_dtype": "bfloat16",
}
GEMMA2_9B = {  # google/gemma-2-9b (sliding window ignored: every layer counted at full length)
    "architectures": ["Gemma2ForCausalLM"],
    "model_type": "gemma2",
    "hidden_size": 3584,
    "intermediate_size": 14336,
    "num_hidden_layers": 42,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 256,
    "vocab_size": 256000,
    "max_position_embeddings": 8192,
    "sliding_window": 4096,
    "torch_dtype": "float32",
}

SEED_KV_MESSAGE = (
    "The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in KV cache "
    "(2256). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine."
)


# ---------------------------------------------------------------- acceptance: the seed's failures


def test_llama_8b_on_one_l4_fits():
    result = plan(
        LLAMA_8B,
        machine_type="g2-standard-12",
        accelerator_type="NVIDIA_L4",
        max_model_len=4096,
        gpu_memory_utilization=0.9,
        max_num_seqs=256,
    )
    assert result.verdict is Verdict.OK and result.fits
    assert 14.9 < result.weights_gib_per_gpu < 15.1
    assert result.kv_bytes_per_token_per_gpu == 2 * 32 * 8 * 128 * 2
    assert result.kv_cache_tokens >= 4096 and result.kv_cache_tokens % 16 == 0


def test_vision_11b_on_a100_40_with_256_seqs_is_flagged():
    result = plan(VISION_11B, machine_type="a2-highgpu-1g", max_model_len=4096, max_num_seqs=256, enforce_eager=True)
    assert result.verdict is Verdict.MULTIMODAL_PROFILE_RISK and not result.fits
    assert result.vision_activation_gib > 39.38  # more than the whole GPU of the seed's OOM log
    assert 12 <= result.recommended_max_num_seqs < 256
    assert f"max_num_seqs to {result.recommended_max_num_seqs}" in result.message


def test_vision_11b_on_a100_40_with_12_seqs_and_eager_works():
    result = plan(VISION_11B, machine_type="a2-highgpu-1g", max_model_len=4096, max_num_seqs=12, enforce_eager=True)
    assert result.verdict is Verdict.OK
    assert result.image_kv_tokens_per_request == 4 * 1601
    assert result.warnings == ()


def test_vision_without_eager_warns():
    result = plan(VISION_11B, accelerator_type="NVIDIA_TESLA_A100", max_model_len=4096, max_num_seqs=12)
    assert any("enforce_eager" in w for w in result.warnings)


def test_vision_11b_on_one_l4_does_not_fit():
    result = plan(VISION_11B, machine_type="g2-standard-12", max_model_len=4096, max_num_seqs=12, enforce_eager=True)
    assert result.verdict is Verdict.WEIGHTS_DO_NOT_FIT and not result.fits
    assert result.weights_gib_per_gpu > 19.5


def _memory_for_kv_tokens(tokens: int, gmu: float) -> float:
    """GPU memory (GiB) at which the 8B plan leaves exactly `tokens` of KV cache."""
    probe = plan(LLAMA_8B, gpu_memory_gib=100.0, gpu_memory_utilization=gmu, max_model_len=4096)
    used = probe.weights_gib_per_gpu + probe.activation_gib + probe.non_torch_gib
    return (used + (tokens + 8) * probe.kv_bytes_per_token_per_gpu / GIB) / gmu


def test_seed_kv_cache_too_small_4096_vs_2256():
    memory = _memory_for_kv_tokens(2256, 0.9)
    result = plan(LLAMA_8B, gpu_memory_gib=memory, gpu_memory_utilization=0.9, max_model_len=4096, enforce_eager=True)
    assert result.verdict is Verdict.KV_CACHE_TOO_SMALL and not result.fits
    assert result.kv_cache_tokens == 2256
    assert result.max_model_len_that_fits <= 2256 and result.max_model_len_that_fits % 16 == 0
    assert result.message.startswith(SEED_KV_MESSAGE)
    assert "2048" in result.message  # the seed's own fix
    assert plan(LLAMA_8B, gpu_memory_gib=memory, max_model_len=2048, enforce_eager=True).fits


@pytest.mark.parametrize("name", sorted(recipes.PRESETS))
def test_every_preset_is_ok_on_its_own_hardware(name):
    result = plan_preset(name)
    assert result.verdict is Verdict.OK, result.message
    assert result.request.accelerator_type == recipes.PRESETS[name].accelerator_type
    version = recipes.vllm_version_of(recipes.PRESETS[name].serving_image)
    assert version != "auto" and result.vllm_profile == engine_profile(version).name  # the preset image's vLLM


def test_plan_preset_override_and_to_dict():
    result = plan_preset("llama-3.2-11b-vision-instruct", max_num_seqs=256)
    data = result.to_dict()
    assert data["verdict"] == "multimodal_profile_risk" and data["fits"] is False
    for key in (
        "weights_gib_per_gpu",
        "kv_bytes_per_token_per_gpu",
        "kv_cache_tokens",
        "max_model_len_that_fits",
        "message",
        "activation_gib",
        "available_kv_gib",
        "accelerator_type",
        "max_num_seqs",
        "dtype",
    ):
        assert key in data
    assert data["max_num_seqs"] == 256 and data["dtype"] == "bfloat16"


# ---------------------------------------------------------------- TP rule


def test_tp_must_divide_attention_heads():
    result = plan(QWEN2_7B, accelerator_type="NVIDIA_L4", accelerator_count=8, max_model_len=4096)
    assert result.verdict is Verdict.TP_DOES_NOT_DIVIDE_HEADS
    assert "Total number of attention heads (28) must be divisible by tensor parallel size (8)" in result.message
    assert plan(QWEN2_7B, accelerator_type="NVIDIA_L4", accelerator_count=4, max_model_len=4096).verdict is Verdict.OK


def test_kv_heads_replicate_when_tp_exceeds_them():
    result = plan(QWEN2_7B, accelerator_type="NVIDIA_H100_80GB", accelerator_count=4, max_model_len=4096)
    one = plan(QWEN2_7B, accelerator_type="NVIDIA_H100_80GB", accelerator_count=1, max_model_len=4096)
    assert result.kv_bytes_per_token_per_gpu == 2 * 28 * 1 * 128 * 2
    assert one.kv_bytes_per_token_per_gpu == 2 * 28 * 4 * 128 * 2


# ---------------------------------------------------------------- parsing and weights


def test_head_dim_derived_and_given():
    assert planner.parse_model_config(LLAMA_8B).head_dim == 4096 // 32
    assert planner.parse_model_config(GEMMA_7B).head_dim == 256
    assert planner.parse_model_config(planner.load_model_config("llama-3.2-1b")).head_dim == 64


def test_tied_embeddings_count_once():
    spec = planner.parse_model_config(planner.load_model_config("llama-3.2-1b"))
    untied = planner.parse_model_config({**planner.load_model_config("llama-3.2-1b"), "tie_word_embeddings": False})
    assert planner.weight_bytes(spec, 2) == 2 * 1_235_814_400  # 1.24B parameters
    assert planner.weight_bytes(untied, 2) - planner.weight_bytes(spec, 2) == 2 * 128256 * 2048


def test_parameter_counts_match_published_checkpoints():
    for name in ("llama-3.1-8b", "llama-3.1-70b", "llama-3.2-3b"):
        spec = planner.parse_model_config(planner.load_model_config(name))
        assert planner.weight_bytes(spec, 2) == planner.checkpoint_total_size(name)


def test_fp8_405b_weights_per_gpu():
    result = plan_preset("llama-3.1-405b-fp8")
    spec = planner.parse_model_config(planner.load_model_config("llama-3.1-405b-fp8"))
    assert spec.quant.method == "fbgemm_fp8" and spec.quant.skip_mlp_layers == {0, 125}
    assert len(spec.quant.skip_attention_layers) == 126
    assert 55 < result.weights_gib_per_gpu < 59  # vLLM #6746 logged 57.75 GB per H100
    bf16 = planner.weight_bytes(planner.parse_model_config({**planner.load_model_config("llama-3.1-8b")}), 2)
    assert bf16 > 0


def test_fp8_and_awq_shrink_weights():
    fp8 = planner.parse_model_config({**LLAMA_8B, "quantization_config": {"quant_method": "fp8"}})
    awq = planner.parse_model_config(
        {**LLAMA_8B, "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128}}
    )
    dense = planner.weight_bytes(planner.parse_model_config(LLAMA_8B), 2)
    assert 0.5 < planner.weight_bytes(fp8, 2) / dense < 0.6  # linears 1 byte, embeddings stay bf16
    assert 0.3 < planner.weight_bytes(awq, 2) / dense < 0.4  # ~0.52 byte per linear weight


def test_fp8_kv_cache_halves_bytes_per_token():
    auto = plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096)
    fp8 = plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096, kv_cache_dtype="fp8")
    assert fp8.kv_bytes_per_token_per_gpu * 2 == auto.kv_bytes_per_token_per_gpu
    assert fp8.kv_cache_tokens > 1.9 * auto.kv_cache_tokens


def test_mixtral_moe_counts_all_experts():
    spec = planner.parse_model_config(MIXTRAL)
    params = planner.weight_bytes(spec, 2) / 2
    assert 46.6e9 < params < 46.8e9  # Mixtral-8x7B: 46.7B parameters
    assert (
        plan(
            MIXTRAL,
            accelerator_type="NVIDIA_L4",
            machine_type="g2-standard-24",
            accelerator_count=2,
            max_model_len=4096,
        ).verdict
        is Verdict.WEIGHTS_DO_NOT_FIT
    )
    assert plan(MIXTRAL, machine_type="a2-ultragpu-2g", accelerator_count=2, max_model_len=32768).verdict is Verdict.OK


def test_qwen2_counts_qkv_bias():
    spec = planner.parse_model_config(QWEN2_7B)
    assert spec.qkv_bias
    assert 7.6e9 < planner.weight_bytes(spec, 2) / 2 < 7.7e9  # Qwen2-7B: 7.62B parameters


def test_gemma_configs():
    gemma = plan(GEMMA_7B, accelerator_type="NVIDIA_L4", max_model_len=4096)
    assert gemma.kv_bytes_per_token_per_gpu == 2 * 28 * 16 * 256 * 2
    assert 8.4e9 < planner.weight_bytes(planner.parse_model_config(GEMMA_7B), 2) / 2 < 8.6e9  # tied: 8.54B
    gemma2 = plan(GEMMA2_9B, accelerator_type="NVIDIA_L4", dtype="auto", max_model_len=4096)
    assert gemma2.request.dtype == "float32" and gemma2.verdict is Verdict.WEIGHTS_DO_NOT_FIT
    bf16 = plan(GEMMA2_9B, accelerator_type="NVIDIA_L4", dtype="bfloat16", max_model_len=4096, vllm_version="v0")
    assert bf16.weights_gib_per_gpu < bf16.usable_gib  # bfloat16 weights fit where float32 do not, but V0's
    assert 2.3 < bf16.text_activation_gib < 2.4  # sampler over 256 x 256,000 logits leaves no KV cache ...
    assert plan(GEMMA2_9B, accelerator_type="NVIDIA_L4", dtype="bfloat16", max_model_len=4096, vllm_version="v0",
                max_num_seqs=64).fits  # ... fewer sequences do  # fmt: skip


def test_total_size_overrides_counted_weights():
    result = plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096, total_size=10 * GIB)
    assert 10.0 < result.weights_gib_per_gpu < 10.1


def test_default_batched_tokens_follow_vllm_v0():
    assert planner.default_max_num_batched_tokens(4096, False) == 4096
    assert planner.default_max_num_batched_tokens(1024, False) == 2048
    assert planner.default_max_num_batched_tokens(4096, True) == 5120
    assert planner.default_max_num_batched_tokens(65536, False) == 512


def test_cuda_graph_memory_only_without_eager():
    assert plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096, enforce_eager=True).cuda_graph_gib == 0
    graphs = plan(LLAMA_8B, accelerator_type="NVIDIA_L4", max_model_len=4096, gpu_memory_utilization=0.99)
    assert graphs.cuda_graph_excess_gib > 0 and graphs.warnings


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("config", "fields", "needle"),
    [
        ({**LLAMA_8B, "num_hidden_layers": None}, {"accelerator_type": "NVIDIA_L4"}, "num_hidden_layers"),
        ({k: v for k, v in LLAMA_8B.items() if k != "hidden_size"}, {"accelerator_type": "NVIDIA_L4"}, "hidden_size"),
        ({**VISION_11B, "text_config": {"hidden_size": 4096}}, {"accelerator_type": "NVIDIA_L4"}, "text_config."),
        (
            {**LLAMA_8B, "quantization_config": {"quant_method": "magic"}},
            {"accelerator_type": "NVIDIA_L4"},
            "quant_method",
        ),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_B200"}, "gpu_memory_gib"),
        (LLAMA_8B, {}, "accelerator_type"),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_L4", "accelerator_count": 0}, "accelerator_count"),
        (LLAMA_8B, {"machine_type": "g2-standard-12", "accelerator_count": 2}, "accelerator_count 2 is not offered"),
        (LLAMA_8B, {"machine_type": "g2-standard-12", "accelerator_type": "NVIDIA_TESLA_A100"}, "does not match"),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_L4", "gpu_memory_utilization": 0}, "gpu_memory_utilization"),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_L4", "gpu_memory_utilization": 1.2}, "gpu_memory_utilization"),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_L4", "dtype": "int3"}, "dtype"),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_L4", "kv_cache_dtype": "int4"}, "kv_cache_dtype"),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_L4", "max_model_len": 10**6}, "max_model_len"),
        (LLAMA_8B, {"accelerator_type": "NVIDIA_L4", "bogus": 1}, "unknown plan field"),
        ("not a dict", {"accelerator_type": "NVIDIA_L4"}, "config"),
    ],
)
def test_bad_input_raises_plan_error(config, fields, needle):
    with pytest.raises(PlanError, match=None) as info:
        plan(config, **fields)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_gpu_with_override_is_fine():
    result = plan(LLAMA_8B, accelerator_type="NVIDIA_B200", gpu_memory_gib=178.4, max_model_len=4096)
    assert result.fits and result.gpu_memory_gib == 178.4


def test_request_object_and_field_override():
    request = PlanRequest(accelerator_type="NVIDIA_L4", max_model_len=4096)
    assert plan(LLAMA_8B, request, max_model_len=2048).request.max_model_len == 2048


# ---------------------------------------------------------------- offline configs


def test_load_model_config_by_preset_id_and_path(tmp_path):
    assert planner.load_model_config("llama-3.1-70b") == planner.load_model_config(
        "meta-llama/Meta-Llama-3.1-70B-Instruct"
    )
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    assert planner.load_model_config(tmp_path) == {"hidden_size": 8}
    assert planner.load_model_config(tmp_path / "config.json") == {"hidden_size": 8}
    with pytest.raises(PlanError, match="not a preset"):
        planner.load_model_config("meta-llama/Nope")
    with pytest.raises(PlanError, match="unknown preset"):
        plan_preset("llama-9")


def test_shipped_configs_are_indexed():
    for hf_id, entry in planner._index().items():
        config = planner.load_model_config(hf_id)
        spec = planner.parse_model_config(config)
        assert spec.num_layers > 0, hf_id
        assert (planner._MODEL_CONFIG_DIR / entry["file"]).is_file()
    for recipe in recipes.PRESETS.values():  # every preset plans from a config that ships offline
        assert recipe.model_id in planner._index(), recipe.model_id
    vision = planner.parse_model_config(VISION_11B)
    assert vision.num_layers == 40 and vision.cross_attention_layers == 8
    assert vision.vision and vision.vision.padded_patches_per_tile == 1608
