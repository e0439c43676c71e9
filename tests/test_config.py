"""DeploymentConfig validation: every bad input names its field and the fix."""

import pytest

from vllm_vertex import config
from vllm_vertex.config import ConfigError, from_preset, validate
from vllm_vertex.recipes import PRESETS


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_is_valid(preset):
    cfg = validate(from_preset(preset, project="my-project"))
    recipe = PRESETS[preset]
    assert cfg.model_id == recipe.model_id and "/" in cfg.model_id
    assert cfg.run_image_checks == cfg.multimodal
    if recipe.smoke_image_prompt is not None:  # the image check's prompt carries the model's own placeholder
        assert recipe.multimodal and cfg.smoke_image_prompt == recipe.smoke_image_prompt
    else:
        assert cfg.smoke_image_prompt == config.DeploymentConfig.smoke_image_prompt


def test_vision_presets_are_multimodal_and_text_presets_are_not():
    assert from_preset("llama-3.2-11b-vision-instruct").multimodal
    assert not from_preset("llama-3.1-8b-instruct").multimodal
    assert from_preset("llama-3.2-11b-vision-instruct").max_num_seqs == 12


def test_overrides_apply():
    cfg = from_preset("llama-3.1-8b", max_model_len=2048, project="my-project")
    assert cfg.max_model_len == 2048


def _problems(**overrides) -> dict[str, str]:
    base = dict(project="my-project")
    base.update(overrides)
    with pytest.raises(ConfigError) as info:
        validate(from_preset("llama-3.1-8b-instruct", **base))
    return dict(info.value.problems)


BAD_INPUTS = [
    (dict(accelerator_type="NVIDIA_TESLA_A100"), "accelerator_type", "carries NVIDIA_L4"),
    (dict(accelerator_count=2), "accelerator_count", "takes 1 GPU"),
    (dict(machine_type="g2-standard-13"), "machine_type", "not a GPU machine type"),
    (dict(accelerator_type="NVIDIA_V100"), "accelerator_type", "unknown"),
    (dict(gpu_memory_utilization=0), "gpu_memory_utilization", "outside (0, 1]"),
    (dict(gpu_memory_utilization=1.2), "gpu_memory_utilization", "outside (0, 1]"),
    (dict(max_model_len=0), "max_model_len", "positive"),
    (dict(max_num_seqs=-1), "max_num_seqs", "positive"),
    (dict(teardown_policy="sometimes"), "teardown_policy", "always, on_failure, never"),
    (dict(run_image_checks=True), "run_image_checks", "text-only"),
    (dict(hf_token_secret="my-secret"), "hf_token_secret", "projects/PROJECT/secrets/NAME/versions"),
    (dict(hf_token_secret="hf_abcdefghijklmnop"), "hf_token_secret", "looks like a token"),
    (dict(region="us-central"), "region", "not a Vertex AI prediction region"),
    (dict(region="us-central"), "region", "us-central1"),
    (dict(model_id=""), "model_id", "empty"),
    (dict(model_id="not a model"), "model_id", "neither"),
    (dict(project=""), "project", "empty"),
    (dict(dtype="int3"), "dtype", "unknown"),
    (dict(extra_vllm_args=["--max-model-len=10"]), "extra_vllm_args", "already set"),
    (dict(extra_vllm_args=["max-model-len"]), "extra_vllm_args", "--flag"),
    (dict(max_replica_count=0), "max_replica_count", "min_replica_count"),
    (dict(labels={"Bad Key": "x"}), "labels", "lowercase"),
    (dict(deploy_timeout_seconds=5), "deploy_timeout_seconds", "at least 10"),
    (dict(extra_vllm_args=["--hf-token=hf_abcdefghijklmnopqrstuvwx"]), "extra_vllm_args", "Secret Manager"),
    (dict(labels={"note": "x"}, smoke_prompt="my token is hf_abcdefghijklmnopqrstuvwx"), "smoke_prompt", "token"),
]


@pytest.mark.parametrize(("overrides", "field", "text"), BAD_INPUTS)
def test_bad_input_names_field_and_fix(overrides, field, text):
    problems = _problems(**overrides)
    assert field in problems, problems
    assert text in problems[field]


def test_all_problems_reported_at_once():
    problems = _problems(gpu_memory_utilization=2, max_model_len=0, teardown_policy="x")
    assert {"gpu_memory_utilization", "max_model_len", "teardown_policy"} <= set(problems)


def test_unknown_preset_suggests_closest():
    with pytest.raises(ConfigError, match="llama-3.1-8b-instruct"):
        from_preset("llama-3.1-8b-instrct")


def test_unknown_field_suggests_closest():
    with pytest.raises(ConfigError, match="max_model_len"):
        config.from_dict({"max_model_lenn": 3})


def test_gcs_model_and_secret_version_accepted():
    cfg = validate(
        from_preset(
            "llama-3.1-8b",
            project="my-project",
            model_id="gs://my-bucket/llama/8b",
            hf_token_secret="projects/p/secrets/hf-token/versions/latest",
        )
    )
    assert cfg.model_id == "gs://my-bucket/llama/8b"


def test_json_round_trip():
    cfg = from_preset("llama-3.2-11b-vision-instruct", project="my-project", labels={"team": "ml"})
    assert config.DeploymentConfig.from_json(cfg.to_json()) == cfg
