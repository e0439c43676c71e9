"""The container spec carries every seed flag, env and route."""

import pytest

from vllm_vertex import container
from vllm_vertex.config import from_preset

SEED_FLAGS = [
    "--host=0.0.0.0",
    "--port=8080",
    "--model=meta-llama/Meta-Llama-3.1-8B-Instruct",
    "--tensor-parallel-size=1",
    "--swap-space=16",
    "--gpu-memory-utilization=0.9",
    "--max-model-len=4096",
    "--dtype=auto",
    "--max-loras=1",
    "--max-cpu-loras=8",
    "--max-num-seqs=256",
    "--disable-log-stats",
    "--enforce-eager",
]


def test_seed_flags_for_preset():
    args = container.vllm_args(from_preset("llama-3.1-8b-instruct"))
    assert args[:3] == ["python", "-m", "vllm.entrypoints.api_server"]
    for flag in SEED_FLAGS:
        assert flag in args


def test_tensor_parallel_follows_accelerator_count():
    args = container.vllm_args(from_preset("llama-3.1-70b-instruct"))
    assert "--tensor-parallel-size=8" in args


@pytest.mark.parametrize(
    ("field", "flag"),
    [
        ("trust_remote_code", "--trust-remote-code"),
        ("enable_lora", "--enable-lora"),
        ("enable_prefix_caching", "--enable-prefix-caching"),
        ("enable_chunked_prefill", "--enable-chunked-prefill"),
    ],
)
def test_optional_switches(field, flag):
    assert flag not in container.vllm_args(from_preset("llama-3.1-8b"))
    assert flag in container.vllm_args(from_preset("llama-3.1-8b", **{field: True}))


def test_model_type_chat_template_and_extras_go_last():
    cfg = from_preset("llama-3.1-8b", model_type="llama3.1", chat_template="/t.jinja", extra_vllm_args=["--seed=1"])
    args = container.vllm_args(cfg)
    assert args[-3:] == ["--model-type=llama3.1", "--chat-template=/t.jinja", "--seed=1"]


def test_container_spec_fields_and_token_only_when_given():
    cfg = from_preset("llama-3.2-11b-vision-instruct")
    spec = container.container_spec(cfg)
    assert spec["image_uri"].endswith("pytorch-vllm-serve:20241210_0916_RC00")
    assert spec["ports"] == [{"container_port": 8080}]
    assert (spec["predict_route"], spec["health_route"]) == ("/generate", "/ping")
    assert spec["shared_memory_size_mb"] == 16384
    assert spec["deployment_timeout_seconds"] == 7200
    env = {e["name"]: e["value"] for e in spec["env"]}
    assert env == {"MODEL_ID": cfg.model_id, "DEPLOY_SOURCE": "vllm-vertex"}
    with_token = {e["name"]: e["value"] for e in container.container_spec(cfg, "hf_x")["env"]}
    assert with_token["HF_TOKEN"] == "hf_x"
