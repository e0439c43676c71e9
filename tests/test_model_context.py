"""max_model_len against the model's context, derived as vLLM derives it: refused by validation when the
config ships, blocked by preflight when it comes from the Hub or a gs:// folder."""

import pytest

from tests.fakes.gcs import FakeGcs
from tests.fakes.hf_hub import FakeHub
from vllm_vertex import planner, preflight
from vllm_vertex.cloud.preflight import run_preflight
from vllm_vertex.config import ConfigError, from_preset, validate
from vllm_vertex.planner.context import context_problem, model_context

LLAMA = planner.shipped_config("meta-llama/Meta-Llama-3.1-8B-Instruct")


@pytest.mark.parametrize(
    ("config", "tokens", "key"),
    [
        (LLAMA, 131072, "max_position_embeddings"),  # rope_type llama3: already scaled
        ({"max_position_embeddings": 4096, "rope_scaling": {"type": "linear", "factor": 4.0}}, 16384,
         "max_position_embeddings"),
        ({"max_position_embeddings": 4096, "rope_scaling": {"rope_type": "dynamic", "factor": 2}}, 8192,
         "max_position_embeddings"),
        ({"max_position_embeddings": 32768, "rope_scaling": {"rope_type": "yarn", "factor": 4}}, 32768,
         "max_position_embeddings"),
        ({"max_position_embeddings": 131072, "model_type": "gemma3_text",
          "rope_scaling": {"rope_type": "linear", "factor": 8}}, 131072, "max_position_embeddings"),
        ({"rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2.0},
                              "sliding_attention": {"rope_type": "default"}},
          "max_position_embeddings": 8192}, 16384, "max_position_embeddings"),
        ({"n_positions": 1024, "max_position_embeddings": 2048}, 1024, "n_positions"),
        ({"max_position_embeddings": 8192, "model_max_length": 131072}, 131072, "model_max_length"),
        ({"text_config": {"max_position_embeddings": 4096}, "max_position_embeddings": 999999}, 4096,
         "max_position_embeddings"),
    ],
)
def test_context_as_vllm_derives_it(config, tokens, key):
    ctx = model_context(config)
    assert (ctx.tokens, ctx.key) == (tokens, key)


def test_no_length_key_is_unknown():
    assert model_context({"hidden_size": 8}) is None and context_problem({"hidden_size": 8}, 10**6) is None


def test_validation_refuses_above_a_shipped_models_context():
    with pytest.raises(ConfigError) as info:
        validate(from_preset("llama-3.1-8b-instruct", project="my-project", max_model_len=200_000))
    message = dict(info.value.problems)["max_model_len"]
    assert "above meta-llama/Meta-Llama-3.1-8B-Instruct's context of 131,072 tokens" in message
    assert "max_position_embeddings=131072" in message and "at most 131072" in message
    assert validate(from_preset("llama-3.1-8b-instruct", project="my-project", max_model_len=131_072))


def _unshipped() -> dict:
    return {**LLAMA, "max_position_embeddings": 8192, "rope_scaling": {"rope_type": "linear", "factor": 2.0}}


def test_preflight_blocks_a_hub_model_naming_the_limit(google_at):
    with FakeHub() as hub:
        google_at(hf=hub.url)
        hub.add("org/long", {"config.json": _unshipped(), "tokenizer_config.json": {"chat_template": "t"}})
        cfg = validate(from_preset("llama-3.1-8b-instruct", project="my-project", model_id="org/long", max_model_len=20000))
        report = run_preflight(cfg)
        ok = run_preflight(validate(from_preset("llama-3.1-8b-instruct", project="my-project", model_id="org/long",
                                                max_model_len=16384)))
    assert not report.ok and report.findings[0].key == "max_model_len_above_context"
    text = report.error_text()
    assert "context of 16,384 tokens (max_position_embeddings=8192 × RoPE factor 2" in text
    assert "at most 16384" in text
    assert ok.ok, ok.error_text()


def test_preflight_blocks_a_gcs_model(google_at):
    with FakeGcs() as gcs:
        google_at(gcs.url)
        gcs.put("gs://bkt/m/config.json", {**LLAMA, "max_position_embeddings": 4096})
        gcs.put("gs://bkt/m/tokenizer_config.json", {"chat_template": "t"})
        cfg = validate(from_preset("llama-3.1-8b-instruct", project="my-project", model_id="gs://bkt/m", max_model_len=8192))
        report = run_preflight(cfg)
    assert [f.key for f in report.findings] == ["max_model_len_above_context"]
    assert "4,096" in preflight.render_markdown(report, cfg)


def _llama(**overrides):
    base = {
        "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "max_position_embeddings": 4096, "torch_dtype": "bfloat16",
    }
    return {**base, **overrides}


def test_planner_accepts_what_vllm_accepts_under_linear_rope_scaling():
    # vLLM multiplies max_position_embeddings by a linear RoPE factor: 4096 × 4 = 16384 is accepted.
    config = _llama(rope_scaling={"type": "linear", "factor": 4.0})
    result = planner.plan(config, accelerator_type="NVIDIA_H100_80GB", accelerator_count=1, max_model_len=16384)
    assert result.fits
    assert result.max_model_len_that_fits == 16384
    # Without a max_model_len, vLLM's default is that derived limit too.
    assert planner.plan(config, accelerator_type="NVIDIA_H100_80GB", accelerator_count=1).max_model_len_that_fits == 16384


def test_planner_refuses_past_the_derived_context():
    config = _llama(rope_scaling={"type": "linear", "factor": 4.0})
    with pytest.raises(planner.PlanError, match="1..16384"):
        planner.plan(config, accelerator_type="NVIDIA_H100_80GB", accelerator_count=1, max_model_len=16400)
    # A pre-scaled RoPE type (llama3) keeps max_position_embeddings as the limit.
    prescaled = _llama(rope_scaling={"rope_type": "llama3", "factor": 8.0})
    with pytest.raises(planner.PlanError, match="1..4096"):
        planner.plan(prescaled, accelerator_type="NVIDIA_H100_80GB", accelerator_count=1, max_model_len=8192)
