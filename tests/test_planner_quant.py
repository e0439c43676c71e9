"""Quantised checkpoints: compressed-tensors (FP8, W4A16, mixed groups, ignore lists), GPTQ/AWQ details."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_vertex import planner
from vllm_vertex.planner import PlanError, plan

DATA = Path(__file__).parent / "data" / "configs"
FP8_70B = json.loads((DATA / "redhatai-meta-llama-3.1-70b-instruct-fp8.json").read_text())
W4A16_70B = json.loads((DATA / "redhatai-meta-llama-3.1-70b-instruct-w4a16.json").read_text())
LLAMA_70B = planner.load_model_config("llama-3.1-70b")
LLAMA_8B = planner.load_model_config("llama-3.1-8b")


def _with_quant(base: dict, qc: dict) -> dict:
    return {**base, "quantization_config": qc}


def test_compressed_tensors_fp8_70b_is_read():
    spec = planner.parse_model_config(FP8_70B)
    assert spec.quant.method == "compressed-tensors" and spec.quant.sizable
    assert spec.quant.bytes_for("model.layers.7.mlp.down_proj") == 1.0
    assert spec.quant.bytes_for("model.layers.7.self_attn.q_proj") == 1.0
    assert spec.quant.bytes_for("lm_head") is None  # in the ignore list
    dense = planner.weight_bytes(planner.parse_model_config(LLAMA_70B), 2)
    fp8 = planner.weight_bytes(spec, 2)
    # linears 1 byte; embeddings and lm_head (2 x 1.05 B params) stay bf16
    linear_params = 80 * (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672)
    assert fp8 - dense == pytest.approx(-linear_params, rel=1e-6)
    assert 0.51 < fp8 / dense < 0.52


def test_compressed_tensors_w4a16_packs_four_bits_with_group_scales():
    spec = planner.parse_model_config(W4A16_70B)
    assert spec.quant.bytes_for("model.layers.0.mlp.up_proj") == pytest.approx(0.5 + 2 / 128)
    assert "w4a16 int group (pack-quantized)" in spec.quant.groups[0].scheme
    ratio = planner.weight_bytes(spec, 2) / planner.weight_bytes(planner.parse_model_config(LLAMA_70B), 2)
    assert 0.27 < ratio < 0.29


def test_done_when_fp8_70b_on_four_h100_gives_verdict_and_kv_figures(tmp_path):
    from tests.cli_support import invoke

    result = invoke(
        None,
        "plan",
        "--model-config",
        str(DATA / "redhatai-meta-llama-3.1-70b-instruct-fp8.json"),
        "--accelerator-type",
        "NVIDIA_H100_80GB",
        "--accelerator-count",
        "4",
        "--json",
    )
    out = json.loads(result.output)
    assert out["verdict"] in {v.value for v in planner.Verdict}
    assert out["kv_cache_tokens"] > 0 and out["kv_bytes_per_token_per_gpu"] == 2 * 80 * 2 * 128 * 2
    # vLLM 0.19 logged "weights memory: 16.96GiB" for RedHatAI's FP8 70B at TP 4 (tests/data/calibration.csv)
    assert abs(out["weights_gib_per_gpu"] - 16.96) < 0.05


def test_groups_targets_and_ignore_patterns():
    qc = {
        "quant_method": "compressed-tensors",
        "format": "mixed-precision",
        "config_groups": {
            "group_0": {
                "format": "pack-quantized",
                "targets": ["re:.*mlp\\.(gate|up|down)_proj$"],
                "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 32, "symmetric": False},
            },
            "group_1": {
                "format": "float-quantized",
                "targets": ["re:.*self_attn\\.(q|k|v|o)_proj$"],
                "weights": {"num_bits": 8, "type": "float", "strategy": "channel"},
                "input_activations": {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True},
            },
        },
        "ignore": ["lm_head", "re:model\\.layers\\.0\\..*"],
    }
    quant = planner.parse_model_config(_with_quant(LLAMA_8B, qc)).quant
    assert quant.bytes_for("model.layers.0.mlp.gate_proj") is None
    assert quant.bytes_for("model.layers.0.self_attn.q_proj") is None
    # asymmetric: a 2-byte scale and a 4-bit zero-point per 32 weights
    assert quant.bytes_for("model.layers.1.mlp.gate_proj") == pytest.approx(0.5 + (2 + 0.5) / 32)
    assert quant.bytes_for("model.layers.1.self_attn.o_proj") == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("qc", "reason"),
    [
        (
            {
                "quant_method": "compressed-tensors",
                "format": "sparse-24-bitmask",
                "config_groups": {"g": {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "float"}}},
            },
            "sparse-24-bitmask",
        ),
        ({"quant_method": "compressed-tensors"}, "config_groups"),
        ({"quant_method": "bitsandbytes"}, "bitsandbytes"),
    ],
)
def test_unsizable_config_says_so_and_total_size_rescues_it(qc, reason):
    config = _with_quant(LLAMA_8B, qc)
    assert not planner.parse_model_config(config).quant.sizable
    with pytest.raises(PlanError, match=f"(?s){reason}.*total_size"):
        plan(config, accelerator_type="NVIDIA_L4", max_model_len=4096)
    result = plan(config, accelerator_type="NVIDIA_L4", max_model_len=4096, total_size=9 * 10**9)
    assert result.weights_gib_per_gpu == pytest.approx(9 * 10**9 / planner.GIB, abs=0.1)


def test_gptq_awq_options_change_the_bytes():
    def bpw(qc):
        return planner.parse_model_config(_with_quant(LLAMA_8B, qc)).quant.linear_bytes

    base = bpw({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True, "desc_act": False})
    assert base == pytest.approx(0.5 + 2 / 128)
    assert bpw({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": False}) == pytest.approx(0.5 + 2.5 / 128)
    assert bpw({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": True}) > base
    assert bpw({"quant_method": "gptq", "bits": 4, "group_size": 32}) > base
    assert bpw({"quant_method": "gptq", "bits": 4, "group_size": -1}) < base  # one scale per channel
    assert bpw({"quant_method": "gptq", "bits": 8, "group_size": 128}) > 1.0
    awq = bpw({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True})
    assert awq == pytest.approx(0.5 + 2.5 / 128)
    with pytest.raises(PlanError, match="group_size"):
        bpw({"quant_method": "gptq", "bits": 4, "group_size": "128"})
